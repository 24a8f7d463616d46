"""The rule layer: curated terms per category in every working language (en, de, fr, es,
it, pt, ja), matched against the normalised forms of the description (`normalize.variants`).

Rules aim at clear cases and at the spellings people use to dodge a filter; paraphrases are
the semantic layer's job (`semantic.py`), and subtler cases the provider's moderation
endpoint's, before any image is generated. Patterns are written folded: lowercase, no
diacritics, katakana for kana. Latin-script terms are whole words; Japanese terms are
substrings, because Japanese has no spaces. Look-alikes are excluded where a term is known
to collide: water and toy guns, 水鉄砲, 裸足 (barefoot), テロップ (caption), "à poil long".
The swastika character 卍 is left out on purpose: in Japan it marks a Buddhist temple.
"""

from __future__ import annotations

import re

from services.emoji.safety.categories import Category, Refusal
from services.emoji.safety.normalize import kana_to_katakana, variants


def _words(*alternatives: str) -> str:
    return r"\b(?:" + "|".join(alternatives) + r")\b"


def _any(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{kana_to_katakana(p)})" for p in patterns))


# "nude" the colour (lipstick, heels), "nu" the bare feet (pieds nus).
_NUDE_COLOUR = r"nude(?! (?:lipstick|colou?r|shade|heels|tone|makeup|nails?)\b)"
_FR_NU = r"(?<!pieds )(?<!pied )nu(?:e|es|s)? (?:sur|dans|qui|au|a la)"
# Toy guns are fine ("water pistol", "Wasserpistole", "pistolet a eau", "水鉄砲"); real
# weapons only together with a target or an aim.
_TOY = r"(?<!water )(?<!squirt )(?<!nerf )(?<!toy )(?<!cap )"
_WEAPON = _any(
    _TOY
    + _words(
        r"guns?",
        r"pistols?",
        r"handguns?",
        r"revolvers?",
        r"rifles?",
        r"shotguns?",
        r"firearms?",
        r"ar-?15",
        r"ak-?47",
        r"knife",
        r"knives",
        r"daggers?",
        r"swords?",
        r"machetes?",
        r"bombs?",
        r"grenades?",
        r"explosives?",
        r"crossbows?",
    ),
    # de (compounds: Schusswaffe, Sturmgewehr; Wasserpistole stays one word, so no match)
    _words(
        r"pistolen?",
        r"\w*gewehre?",
        r"(?:schuss|feuer|mord)?waffen?",
        r"knarren?",
        r"messer",
        r"dolche?",
        r"schwert(?:er)?",
        r"macheten?",
        r"bomben?",
        r"granaten?",
        r"sprengstoff\w*",
        r"flinten?",
    ),
    # fr
    _words(
        r"pistolets?(?! a eau)",
        r"fusils?",
        r"armes?(?: a feu)?",
        r"couteaux?",
        r"poignards?",
        r"epees?",
        r"machettes?",
        r"explosifs?",
    ),
    # es / it / pt
    _words(
        r"pistol[ae]s?(?! (?:de agua|ad acqua|d'acqua))",
        r"armas?(?: de fuego| da fuoco)?",
        r"escopetas?",
        r"fusil(?:es)?",
        r"revolver(?:es)?",
        r"cuchillos?",
        r"navajas?",
        r"punales?",
        r"espadas?",
        r"fucil[ei]",
        r"coltell[oi]",
        r"pugnal[ei]",
        r"spad[ae]",
        r"rivoltell[ae]",
        r"fuzil",
        r"facas?",
        r"punhal",
        r"facao",
        r"granadas?",
        r"granat[ae]",
        r"explosivos?",
        r"esplosiv[oi]",
    ),
    r"(?<!水)(?<!オモチャノ)(?<!オモチャ)銃|拳銃|ピストル|ライフル|(?<!水)鉄砲|ナイフ|刃物|日本刀|爆弾|手榴弾",
)
_AIMED = _any(
    _words(
        r"aim(?:s|ed|ing)?",
        r"point(?:s|ed|ing)?",
        r"shoot(?:s|ing)?",
        r"shot",
        r"stab(?:s|bed|bing)?",
        r"threaten(?:s|ed|ing)?",
        r"attack(?:s|ed|ing)?",
        r"kill(?:s|ed|ing)?",
        r"murder(?:s|ed|ing)?",
    ),
    r"\bat (?:a |the |my |his |her |their |some )?(?:person|people|man|woman|men|women|kids?|"
    r"child(?:ren)?|boy|girl|teacher|cop|police|officer|crowd|head|face|someone|somebody|"
    r"you|him|her|them|me|us)\b",
    # de
    _words(
        r"(?:aus|hin)?richte[nt]?",
        r"zielt?",
        r"zielen",
        r"schiesst?",
        r"schiessen",
        r"(?:er|an)schiess\w*",
        r"erschossen",
        r"abdrucken",
        r"abgedruckt",
        r"druckt ab",
        r"bedroh\w*",
        r"(?:er|ein|nieder|ab)?stech\w*",
        r"(?:er|ein)?sticht",
        r"toten",
        r"totet",
        r"umbringen",
        r"ermord\w*",
        r"angreif\w*",
    ),
    _words(
        r"(?:einen|einem|den|dem|die|eine|einer|ein) (?:menschen|mann|frau|person|kind|leute|"
        r"polizisten?|lehrer\w*|passanten?)",
        r"jemand\w*",
        r"menschen",
        r"kopf",
    ),
    # fr
    _words(
        r"vis\w*",
        r"point\w*",
        r"braqu\w*",
        r"tir\w* sur",
        r"tu(?:er|e|ent)",
        r"poignard\w+",
        r"menac\w*",
        r"attaqu\w*",
    ),
    _words(
        r"personnes?",
        r"hommes?",
        r"femmes?",
        r"enfants?",
        r"gens",
        r"quelqu'un",
        r"policiers?",
        r"foule",
        r"tete",
    ),
    # es / it / pt
    _words(
        r"apunt\w*",
        r"dispar\w*",
        r"mat(?:ar|a|an)",
        r"apunal\w*",
        r"amenaz\w*",
        r"punt(?:are|a|ano|ando|ata|ato)",
        r"spar\w*",
        r"uccid\w*",
        r"accoltell\w*",
        r"pugnal\w*",
        r"minacc\w*",
        r"apont\w*",
        r"atir\w*",
        r"esfaque\w*",
        r"ameac\w*",
    ),
    _words(
        r"personas?",
        r"persone",
        r"pessoas?",
        r"hombres?",
        r"uomo",
        r"uomini",
        r"homens?",
        r"mujer(?:es)?",
        r"donn[ae]",
        r"mulher(?:es)?",
        r"ninos?",
        r"bambin[oi]",
        r"criancas?",
        r"gente",
        r"alguien",
        r"qualcuno",
        r"alguem",
        r"policias?",
        r"poliziott[oi]",
        r"policia(?:l|is)?",
        r"multitud",
        r"folla",
        r"multidao",
        r"cabeza",
        r"testa",
        r"cabeca",
    ),
    r"向け|撃|狙|刺|殺|突きつけ|人|警察|群衆|頭",
)
_RULES: tuple[tuple[Category, re.Pattern[str]], ...] = (
    (
        Category.VIOLENCE,
        _any(
            r"\b(?:kill|murder|shoot|stab|behead|execute|lynch)(?:ing)? (?:all )?(?:a |the |my "
            r"|his |her )?(?:people|person|man|woman|kids?|child(?:ren)?|you|him|her|them|"
            r"everyone|teacher|cop|police)\b",
            r"\bschool shoot",
            _words(
                r"beheading\w*",
                r"massacres?",
                r"gore",
                r"dead bod(?:y|ies)",
                r"mass shootings?",
                r"terroris[tm]s?",
            ),
            # de
            _words(
                r"(?:alle )?(?:menschen|leute|kinder) (?:toten|umbringen|ermorden|"
                r"erschiessen)",
                r"massaker\w*",
                r"enthauptung\w*",
                r"leichen\w*",
                r"amoklauf\w*",
                r"blutbad\w*",
                r"terror(?:ist\w*|anschlag\w*)",
                r"gemetzel",
            ),
            # fr
            _words(
                r"tu(?:er|e) (?:tous )?(?:les |des )?(?:gens|personnes|enfants|hommes)",
                r"decapitation\w*",
                r"cadavres?",
                r"fusillades?",
                r"attentats?",
            ),
            # es / it / pt
            _words(
                r"mat(?:ar|a) a (?:todas las |todos los |la )?(?:personas|gente|ninos)",
                r"masacres?",
                r"decapitacion\w*",
                r"cadaver(?:es)?",
                r"tiroteos?",
                r"atentados?",
                r"uccidere (?:tutte )?(?:le )?persone",
                r"strage",
                r"massacro",
                r"decapitazione",
                r"cadaveri",
                r"sparatoria",
                r"attentato",
                r"matar (?:todas )?(?:as )?pessoas",
                r"chacina",
                r"decapitacao",
                r"tiroteio",
            ),
            r"虐殺|斬首|死体|殺害|人を殺|乱射|テロリスト|テロ攻撃|自爆テロ|血まみれ",
        ),
    ),
    (
        Category.HATE_SYMBOL,
        _any(
            _words(
                r"swastikas?",
                r"(?:neo-?)?nazi\w*",
                r"hakenkreuz\w*",
                r"sieg heil",
                r"heil hitler",
                r"hitlergruss",
                r"kkk",
                r"ku klux\w*",
                r"1488",
                r"14 88",
                r"white (?:power|pride|supremac\w*)",
                r"(?:ss|sig) (?:runes?|bolts?)",
                r"ss-runen?",
                r"burning cross",
                r"confederate flag",
                r"croix gammee",
                r"esvasticas?",
                r"svastica",
                r"svastiche",
                r"suasticas?",
                r"salut nazi",
                r"saluto (?:romano|nazista)",
            ),
            r"鉤十字|ハーケンクロイツ|ナチ",
        ),
    ),
    (
        Category.SEXUAL,
        _any(
            _words(
                _NUDE_COLOUR,
                r"nudes",
                r"naked",
                r"nsfw",
                r"porn\w*",
                r"xxx",
                r"sex",
                r"sexy",
                r"sexual\w*",
                r"erotic\w*",
                r"hentai",
                r"fetish\w*",
                r"orgasm\w*",
                r"genital\w*",
                r"penis",
                r"vagina",
                r"boobs?",
                r"tits",
                r"topless",
                r"strip(?:per|tease)",
                r"onlyfans",
                r"horny",
                r"aroused",
            ),
            # de (nackte Füße stay fine: bare feet are not sexual)
            r"\bnackt\w*\b(?! (?:fusse|fuss|zehen|haut)\b)",
            _words(r"porno\w*", r"erotisch\w*", r"titten", r"bruste"),
            # fr ("nu" alone also means bare: pieds nus)
            _words(
                _FR_NU,
                r"toute nue",
                r"tout nu",
                r"femmes? nues?",
                r"sexe",
                r"erotique\w*",
                r"seins nus",
            ),
            # es / it / pt
            _words(
                r"desnud[oa]s?",
                r"sexo",
                r"erotic[oa]s?",
                r"tetas",
                r"nuda",
                r"nudita",
                r"sesso",
                r"erotic[ao]",
                r"nua",
                r"nuas",
                r"pelad[oa]s?",
                r"sem roupa",
            ),
            r"(?<!.)ヌード|全裸|(?<!オモチャノ)裸(?![足眼一])|エロ|ポルノ|セックス|おっぱい|性的",
        ),
    ),
    (
        Category.SELF_HARM,
        _any(
            r"\bsuicid\w*",
            r"\bkill(?:ing)? (?:my|your|him|her|them)sel(?:f|ves)\b",
            _words(
                r"kms",
                r"self[- ]?harm\w*",
                r"noose",
                r"end (?:my|your) life",
                r"wants? to die",
                r"overdos\w*",
            ),
            r"\bcut(?:ting)? (?:my|your|her|his) (?:wrists?|arms?|sel(?:f|ves))",
            r"\bslit(?:ting)? (?:my |your |her |his |their )?wrists?",
            r"\bhang(?:ing)? (?:my|your|him|her)sel(?:f|ves)\b",
            # de
            _words(
                r"selbstmord\w*",
                r"(?:mich|dich|sich) (?:umbringen|toten|erhangen|ritzen)",
                r"erhang\w*",
                r"pulsadern",
                r"will sterben",
                r"sterben will",
                r"uberdosis",
                r"ritze mich",
            ),
            # fr
            _words(
                r"me (?:tuer|pendre)",
                r"se (?:tuer|pendre)",
                r"(?:me |m')ouvrir les veines",
                r"trancher les veines",
                r"envie de mourir",
                r"veux mourir",
                r"pendu\w*",
                r"corde au cou",
                r"nœud coulant",
            ),
            # es / it / pt
            _words(
                r"matarme",
                r"quitarme la vida",
                r"ahorcar\w*",
                r"cortarme las venas",
                r"quiero morir(?:me)?",
                r"sobredosis",
                r"uccidermi",
                r"ammazzarmi",
                r"impiccar\w*",
                r"tagliarmi le vene",
                r"voglio morire",
                r"me matar",
                r"me enforcar",
                r"enforcad[oa]",
                r"cortar os pulsos",
                r"quero morrer",
            ),
            r"自殺|自傷|リストカット|リスカ|首吊|首を吊|死にたい|シニタイ|オーバードーズ",
        ),
    ),
    (
        Category.REAL_PERSON,
        _any(
            _words(
                r"(?:real|actual|famous) (?:person|people|celebrity|politician)",
                r"(?:celebrity|celebrities|politician|president|prime minister|pope)"
                r"(?:'s|’s)? (?:face|likeness|portrait)",
                r"likeness",
                r"deepfake\w*",
            ),
            _words(
                r"(?:echte[rn]?|reale[rn]?) (?:person|promi\w*)",
                r"promis?",
                r"celebrites?",
                r"vraie personne",
                r"persona real",
                r"persona reale",
                r"pessoa real",
                r"famos[oa]s? (?:de verdade|real|vero)",
            ),
            r"有名人|芸能人|大統領|首相|政治家|総理",
        ),
    ),
)
# "looks like <Name Surname>": needs the original capitals, so it runs on NFC text only.
_LOOKS_LIKE = re.compile(
    r"\b(?:looks? like|looking like|resembl\w+|likeness of|look-?alike of|caricature of|"
    r"impersonat\w+|portrait of|photo of|face of|aussieht wie|sieht aus wie|aussehen wie|"
    r"ressembl\w+ a|ressembl\w+ à|se parece a|parecid[oa] a|assomigli\w* a|parece com|"
    r"parecid[oa] com)\s+(?-i:[A-ZÀ-Ý][\w'’.-]+)(?:\s+(?:da |de |di |von |van |del )?"
    r"(?-i:[A-ZÀ-Ý][\w'’.-]+))+",
    re.IGNORECASE,
)


def check(description: str) -> Refusal | None:
    """The first rule the description breaks, or None when no rule objects."""
    if _LOOKS_LIKE.search(description):
        return Refusal.of(Category.REAL_PERSON)
    for text in variants(description):
        if _WEAPON.search(text) and _AIMED.search(text):
            return Refusal.of(Category.WEAPON_AT_PERSON)
        for category, pattern in _RULES:
            if pattern.search(text):
                return Refusal.of(category)
    return None
