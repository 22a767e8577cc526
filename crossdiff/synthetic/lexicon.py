"""The closed vocabulary of the synthetic captions: every word with its lemma, POS tag and concept.

Captions are built only from these words, so their HumanML3D tokens (`lemma/POS`, as spaCy would
write them) are known exactly, and the GloVe-format vectors can place synonyms (same concept)
near each other. POS tags are spaCy's universal tags; the evaluator's word vectorizer maps the
ones outside its 15 categories (CCONJ, PART, SCONJ) to OTHER (docs/original_code.md §2.6).
"""

from __future__ import annotations

# surface lemma POS concept
_TABLE = """
a a DET a
an a DET a
the the DET the
person person NOUN person
man man NOUN person
woman woman NOUN person
human human NOUN person
figure figure NOUN person
someone someone PRON person
his his PRON his
her her PRON his
their their PRON his
them they PRON they
is be AUX be
walk walk VERB walk
walks walk VERB walk
walking walk VERB walk
stroll stroll VERB walk
strolls stroll VERB walk
strolling stroll VERB walk
jog jog VERB jog
jogs jog VERB jog
jogging jog VERB jog
run run VERB run
runs run VERB run
running run VERB run
sprint sprint VERB run
sprints sprint VERB run
sprinting sprint VERB run
move move VERB move
moves move VERB move
moving move VERB move
step step VERB step
steps step VERB step
stepping step VERB step
sidestep sidestep VERB step
sidesteps sidestep VERB step
sidestepping sidestep VERB step
shuffle shuffle VERB step
shuffles shuffle VERB step
shuffling shuffle VERB step
back back VERB backward
backs back VERB backward
backing back VERB backward
turn turn VERB turn
turns turn VERB turn
turning turn VERB turn
rotate rotate VERB turn
rotates rotate VERB turn
rotating rotate VERB turn
spin spin VERB spin
spins spin VERB spin
spinning spin VERB spin
twirl twirl VERB spin
twirls twirl VERB spin
twirling twirl VERB spin
make make VERB make
makes make VERB make
making make VERB make
crouch crouch VERB crouch
crouches crouch VERB crouch
crouching crouch VERB crouch
crouched crouch VERB crouch
sneak sneak VERB crouch
sneaks sneak VERB crouch
sneaking sneak VERB crouch
jump jump VERB jump
jumps jump VERB jump
jumping jump VERB jump
leap leap VERB jump
leaps leap VERB jump
leaping leap VERB jump
hop hop VERB hop
hops hop VERB hop
hopping hop VERB hop
balance balance VERB balance
balances balance VERB balance
balancing balance VERB balance
squat squat VERB squat
squats squat VERB squat
squatting squat VERB squat
do do VERB do
does do VERB do
doing do VERB do
stand stand VERB stand
stands stand VERB stand
standing stand VERB stand
kick kick VERB kick
kicks kick VERB kick
kicking kick VERB kick
punch punch VERB punch
punches punch VERB punch
punching punch VERB punch
box box VERB punch
boxes box VERB punch
boxing box VERB punch
throw throw VERB throw
throws throw VERB throw
throwing throw VERB throw
wave wave VERB wave
waves wave VERB wave
waving wave VERB wave
raise raise VERB raise
raises raise VERB raise
raising raise VERB raise
lift lift VERB raise
lifts lift VERB raise
lifting lift VERB raise
put put VERB put
puts put VERB put
putting put VERB put
stretch stretch VERB stretch
stretches stretch VERB stretch
stretching stretch VERB stretch
stretched stretch VERB stretch
face face VERB face
spread spread VERB stretch
spreads spread VERB stretch
spreading spread VERB stretch
lower lower VERB lower
lowers lower VERB lower
lowering lower VERB lower
clap clap VERB clap
claps clap VERB clap
clapping clap VERB clap
bow bow VERB bow
bows bow VERB bow
bowing bow VERB bow
bend bend VERB bend
bends bend VERB bend
bending bend VERB bend
take take VERB take
takes take VERB take
taking take VERB take
curving curve VERB curve
forward forward ADV forward
forwards forward ADV forward
ahead ahead ADV forward
straight straight ADV straight
backward backward ADV backward
backwards backwards ADV backward
sideways sideways ADV sideways
around around ADV around
up up ADV up
down down ADV down
again again ADV again
together together ADV together
out out ADV out
then then ADV then
first first ADV first
afterwards afterwards ADV then
high high ADV high
low low ADV low
far far ADV far
slowly slowly ADV slow
leisurely leisurely ADV slow
quickly quickly ADV fast
fast fast ADV fast
briskly briskly ADV fast
rapidly rapidly ADV fast
steadily steadily ADV steady
lightly lightly ADV light
deeply deeply ADV deep
slightly slightly ADV slight
very very ADV very
once once ADV once
twice twice ADV twice
left left ADJ left
right right ADJ right
clockwise clockwise ADV clockwise
counterclockwise counterclockwise ADV counterclockwise
one one NUM one
two two NUM two
three three NUM three
four four NUM four
five five NUM five
six six NUM six
several several ADJ several
full full ADJ full
half half ADJ half
slow slow ADJ slow
normal normal ADJ normal
easy easy ADJ easy
both both DET both
opposite opposite ADJ opposite
other other ADJ other
long long ADJ long
ninety ninety NUM ninety
degrees degree NOUN degree
times time NOUN time
while while SCONJ while
and and CCONJ and
before before ADP before
after after ADP after
that that PRON that
to to ADP to
in in ADP in
on on ADP on
at at ADP at
with with ADP with
along along ADP along
over over ADP over
above above ADP over
of of ADP of
into into ADP in
pace pace NOUN pace
way way NOUN way
place place NOUN place
circle circle NOUN circle
circles circle NOUN circle
curve curve NOUN curve
side side NOUN side
sides side NOUN side
leg leg NOUN leg
foot foot NOUN leg
arm arm NOUN arm
arms arm NOUN arm
hand hand NOUN hand
hands hand NOUN hand
fist fist NOUN hand
fists fist NOUN hand
head head NOUN head
body body NOUN body
front front NOUN front
air air NOUN air
waist waist NOUN waist
position position NOUN position
direction direction NOUN direction
shoulder shoulder NOUN shoulder
height height NOUN height
"""

# Left/right and the turning senses swap under the mirror (docs/original_code.md §2.3).
MIRROR_WORDS = {"left": "right", "right": "left", "clockwise": "counterclockwise", "counterclockwise": "clockwise"}


def _parse(table: str) -> dict[str, tuple[str, str, str]]:
    entries = {}
    for line in table.strip().splitlines():
        surface, lemma, pos, concept = line.split()
        assert surface not in entries, f"{surface} listed twice"
        entries[surface] = (lemma, pos, concept)
    return entries


LEXICON = _parse(_TABLE)
