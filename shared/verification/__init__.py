"""Verification shared by every feature that publishes model text.

A small local model drafts; these checks decide whether a draft may be published. They are
deterministic and cheap (regular expressions and word alignment, no model call), so every
candidate of every request can be checked, local and remote answers alike:

- `facts`: fact extraction with normalisation (3pm = 15:00, $20 = 20 dollars, Fri = Friday).
- `grounding`: every fact of an answer must come from its sources.
- `fluency`: no repeated sentence or long repeated phrase.
- `perspective`: summaries speak in the third person.
- `attribution`: who did what, and in which mood (asked / will / did / did not).
- `polarity`: a negation in the source survives the rewrite.
- `leakage`: prompt scaffolding never reaches the user.
- `tone`: a tone rewrite measurably moves the text towards its tone.
"""
