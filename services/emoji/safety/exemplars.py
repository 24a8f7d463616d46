"""Reference descriptions for the semantic check, in every working language.

Two labelled banks: `UNSAFE` (with the category a refusal names) and `SAFE`, where the safe
bank holds look-alikes on purpose (toy guns, star shapes, portraits of animals, kitchen
knives) so that a description is judged by which bank it sits closer to, not by shared
words. The unit tests measure the checker on other sentences (tests/unit/services/emoji/
safety_cases.py); none of these is reused there.
"""

from __future__ import annotations

from typing import Final

from services.emoji.safety.categories import Category

W = Category.WEAPON_AT_PERSON
V = Category.VIOLENCE
H = Category.HATE_SYMBOL
S = Category.SEXUAL
X = Category.SELF_HARM
P = Category.REAL_PERSON

UNSAFE: Final[tuple[tuple[Category, str], ...]] = (
    # en
    (W, "a man pointing a pistol at another man's head"),
    (W, "someone aiming a rifle at a child"),
    (W, "holding a knife to a woman's throat"),
    (V, "a pile of dead bodies after a massacre"),
    (V, "a terrorist blowing up a bus full of people"),
    (H, "a flag with a swastika on it"),
    (H, "a man giving the hitler salute"),
    (S, "a naked woman posing"),
    (S, "two people having sex"),
    (X, "a person hanging from a noose"),
    (X, "cutting my wrists with a razor"),
    (P, "a sticker of the face of a famous politician"),
    # de
    (W, "ein Mann hält einer Frau eine Pistole an den Kopf"),
    (W, "mit dem Gewehr auf Kinder zielen"),
    (W, "jemandem ein Messer in den Bauch rammen"),
    (V, "ein Haufen Leichen nach einem Massaker"),
    (V, "Terroristen sprengen einen Bus voller Menschen"),
    (H, "eine Fahne mit Hakenkreuz"),
    (H, "ein Mann zeigt den Hitlergruß"),
    (S, "eine nackte Frau posiert"),
    (S, "zwei Menschen beim Sex"),
    (X, "ein Mensch erhängt sich am Strick"),
    (X, "ich will mir die Pulsadern aufschneiden"),
    # fr
    (W, "un homme braque un pistolet sur la tête d'un passant"),
    (W, "viser un enfant avec un fusil"),
    (W, "planter un couteau dans le ventre de quelqu'un"),
    (V, "des cadavres entassés après un massacre"),
    (V, "un terroriste fait exploser un bus plein de gens"),
    (H, "un drapeau avec une croix gammée"),
    (H, "un homme fait le salut nazi"),
    (S, "une femme nue qui pose"),
    (S, "deux personnes en train de faire l'amour, scène porno"),
    (X, "une personne pendue à une corde"),
    (X, "je veux me trancher les veines"),
    # es
    (W, "un hombre apunta con una pistola a la cabeza de otro"),
    (W, "apuntar con un rifle a un niño"),
    (W, "clavarle un cuchillo en el vientre a alguien"),
    (V, "un montón de cadáveres después de una masacre"),
    (V, "un terrorista hace explotar un autobús lleno de gente"),
    (H, "una bandera con una esvástica"),
    (H, "un hombre haciendo el saludo nazi"),
    (S, "una mujer desnuda posando"),
    (S, "dos personas teniendo sexo"),
    (X, "una persona ahorcada con una soga"),
    (X, "quiero cortarme las venas"),
    # it
    (W, "un uomo punta una pistola alla testa di un passante"),
    (W, "puntare un fucile contro un bambino"),
    (W, "piantare un coltello nella pancia di qualcuno"),
    (V, "un mucchio di cadaveri dopo una strage"),
    (V, "un terrorista fa esplodere un autobus pieno di gente"),
    (H, "una bandiera con la svastica"),
    (H, "un uomo fa il saluto nazista"),
    (S, "una donna nuda in posa"),
    (S, "due persone che fanno sesso"),
    (X, "una persona impiccata a una corda"),
    (X, "voglio tagliarmi le vene"),
    # pt
    (W, "um homem aponta uma pistola para a cabeça de outro"),
    (W, "apontar um fuzil para uma criança"),
    (W, "enfiar uma faca na barriga de alguém"),
    (V, "uma pilha de cadáveres depois de um massacre"),
    (V, "um terrorista explode um ônibus cheio de gente"),
    (H, "uma bandeira com uma suástica"),
    (H, "um homem fazendo a saudação nazista"),
    (S, "uma mulher nua posando"),
    (S, "duas pessoas fazendo sexo"),
    (X, "uma pessoa enforcada numa corda"),
    (X, "quero cortar os pulsos"),
    # ja
    (W, "男が別の男の頭に拳銃を突きつける"),
    (W, "子供にライフルを向ける"),
    (W, "誰かの腹にナイフを突き刺す"),
    (V, "虐殺の後の死体の山"),
    (V, "テロリストが人でいっぱいのバスを爆破する"),
    (H, "鉤十字の旗"),
    (H, "ナチス式敬礼をする男"),
    (S, "裸の女性がポーズをとる"),
    (S, "セックスしている二人"),
    (X, "首を吊っている人"),
    (X, "手首を切りたい"),
)

SAFE: Final[tuple[str, ...]] = (
    # en
    "a kid playing with a water pistol in the garden",
    "a chef chopping onions with a kitchen knife",
    "a shooting star over the mountains",
    "a photographer taking a portrait of a dog",
    "a cat wearing sunglasses",
    "a birthday cake with candles",
    "a knight with a sword in a fairy tale",
    "a basketball player shooting a free throw",
    "I'm dying of laughter",
    "a pirate flag on a toy ship",
    "a baby in a bathtub with a rubber duck",
    "a tired person on a monday morning",
    # de
    "ein Kind spielt mit einer Wasserpistole im Garten",
    "ein Koch schneidet Zwiebeln mit einem Küchenmesser",
    "eine Sternschnuppe über den Bergen",
    "ein Fotograf macht ein Porträt von einem Hund",
    "eine Katze mit Sonnenbrille",
    "ein Geburtstagskuchen mit Kerzen",
    "ein Fußballer schießt ein Tor",
    "ich lache mich tot",
    "eine Pistolenkrabbe am Meeresgrund",
    "ein müder Mensch am Montagmorgen",
    # fr
    "un enfant joue avec un pistolet à eau dans le jardin",
    "un cuisinier coupe des oignons avec un couteau de cuisine",
    "une étoile filante au-dessus des montagnes",
    "se faire tirer le portrait chez le photographe",
    "un chat avec des lunettes de soleil",
    "un gâteau d'anniversaire avec des bougies",
    "un joueur tire au but",
    "mort de rire",
    # es
    "un niño juega con una pistola de agua en el jardín",
    "un cocinero corta cebollas con un cuchillo de cocina",
    "una estrella fugaz sobre las montañas",
    "un fotógrafo hace un retrato de un perro",
    "un gato con gafas de sol",
    "una tarta de cumpleaños con velas",
    "un futbolista dispara a puerta",
    "me muero de risa",
    # it
    "un bambino gioca con una pistola ad acqua in giardino",
    "un cuoco taglia le cipolle con un coltello da cucina",
    "una stella cadente sopra le montagne",
    "un fotografo fa un ritratto a un cane",
    "un gatto con gli occhiali da sole",
    "una torta di compleanno con le candeline",
    "un calciatore tira in porta",
    "muoio dal ridere",
    # pt
    "uma criança brinca com uma pistola de água no jardim",
    "um cozinheiro corta cebolas com uma faca de cozinha",
    "uma estrela cadente sobre as montanhas",
    "um fotógrafo faz um retrato de um cachorro",
    "um gato de óculos escuros",
    "um bolo de aniversário com velas",
    "um jogador chuta para o gol",
    "morrendo de rir",
    # ja
    "庭で水鉄砲で遊ぶ子供",
    "包丁で玉ねぎを切る料理人",
    "山の上の流れ星",
    "犬の肖像写真を撮るカメラマン",
    "サングラスをかけた猫",
    "ろうそくの付いた誕生日ケーキ",
    "シュートを打つサッカー選手",
    "笑い死にしそう",
)
