"""Motion captions for the 101 UCF101 action classes (prepare/ucf101.py writes them to text.json).

Keys are the class tags exactly as UCF101 spells them in its video file names
(`v_<Tag>_gGG_cCC.avi`), which is what the in-the-wild dataset reads (`filename.split('_')[1]`).
One class differs from UCF101's own class list: its files say `HandStandPushups` while
classInd.txt and the folder say `HandstandPushups`; `CLASS_ALIASES` maps the folder spelling to the
file spelling. The captions describe the body's motion in the style of HumanML3D ("a person ..."),
since only the 2D body motion of the video reaches the model; objects, animals and vehicles are
named only where they explain the pose.
"""

from __future__ import annotations

from crossdiff.errors import UserError

UCF101_CAPTIONS: dict[str, tuple[str, ...]] = {
    "ApplyEyeMakeup": (
        "a person raises one hand to the face and makes small careful strokes near the eye",
        "someone holds a hand close to their eye and moves it in tiny motions",
        "a person tilts the head slightly and dabs at the eye area with one hand"),
    "ApplyLipstick": (
        "a person lifts one hand to the mouth and moves it slowly from side to side",
        "someone holds a hand in front of their lips and traces small strokes",
        "a person keeps the head still while one hand makes short movements at the mouth"),
    "Archery": (
        "a person stands sideways, raises one arm forward and pulls the other hand back to the face",
        "someone draws a bow: one arm extended, the other elbow pulled back high, then releases",
        "a person holds a steady stance with the arms spread front and back, then lets go"),
    "BabyCrawling": (
        "a small person crawls forward on hands and knees",
        "a child moves forward on all fours, alternating arms and legs",
        "someone crawls on the floor, reaching forward with one hand after the other"),
    "BalanceBeam": (
        "a person walks carefully along a line with the arms stretched out to the sides",
        "a gymnast steps, turns and leaps on a narrow beam, keeping the arms out for balance",
        "someone balances on one leg, raises the arms, then walks forward on tiptoe"),
    "BandMarching": (
        "a person marches forward, lifting the knees high in a steady rhythm",
        "someone walks in step with high knees while holding the hands in front of the chest",
        "a person marches in place and then forward, arms held close to the body"),
    "BaseballPitch": (
        "a person lifts one knee, steps forward and throws a ball overhand",
        "someone winds up, strides forward and whips one arm over the shoulder to pitch",
        "a person raises the front leg, leans back and throws forcefully with the right arm"),
    "Basketball": (
        "a person bends the knees and shoots a ball upward with both hands",
        "someone dribbles a ball with one hand, then jumps and shoots",
        "a person jumps straight up and pushes both arms up over the head to throw"),
    "BasketballDunk": (
        "a person runs forward, jumps high and slams one arm down over the head",
        "someone takes a few quick steps, leaps and reaches up with both hands to dunk",
        "a person sprints, jumps off one foot and thrusts the arm up and down at the top"),
    "BenchPress": (
        "a person lies on the back and pushes both arms straight up, then lowers them",
        "someone on a bench presses a weight up from the chest again and again",
        "a person lying down bends and straightens both elbows repeatedly"),
    "Biking": (
        "a person sits and pedals, the legs circling while the hands hold in front",
        "someone rides a bicycle forward, knees going up and down alternately",
        "a person leans forward with both arms out and pumps the legs in circles"),
    "Billiards": (
        "a person bends forward over a table and slides one arm back and forth, then strikes",
        "someone leans low, aims along one arm and pushes it forward sharply",
        "a person stands bent at the waist and makes a short pushing motion with the back arm"),
    "BlowDryHair": (
        "a person holds one hand up beside the head and moves it around the hair",
        "someone raises an arm to the head and waves it slowly while the other hand combs",
        "a person keeps both hands near the head, moving them up and down"),
    "BlowingCandles": (
        "a person leans forward and blows, the head moving slightly forward",
        "someone bends toward a table and purses the lips, then straightens up",
        "a person lowers the head in front of them and blows out, then leans back"),
    "BodyWeightSquats": (
        "a person squats down and stands back up repeatedly",
        "someone bends the knees deeply with the arms stretched forward, then rises",
        "a person does squats, lowering the hips and standing up again and again"),
    "Bowling": (
        "a person takes a few steps forward, swings one arm back and releases a ball low",
        "someone walks forward, bends the front knee deeply and swings the arm through",
        "a person swings the right arm back and forward while sliding into a lunge"),
    "BoxingPunchingBag": (
        "a person punches forward with both fists in quick succession",
        "someone stands in a boxing stance and hits a bag with left and right punches",
        "a person bounces on the feet and throws jabs and hooks"),
    "BoxingSpeedBag": (
        "a person holds both fists up near the face and circles them rapidly",
        "someone stands still and hits a small bag overhead with fast rolling punches",
        "a person keeps the hands at head height and makes quick small circular strikes"),
    "BreastStroke": (
        "a person swims forward, pushing the arms out in a circle and kicking the legs",
        "someone lies forward and sweeps both arms outward, then brings them together",
        "a person swims breaststroke, arms and legs opening and closing together"),
    "BrushingTeeth": (
        "a person holds one hand at the mouth and moves it quickly back and forth",
        "someone brushes their teeth, the elbow raised and the hand scrubbing",
        "a person stands still while one hand moves rapidly near the mouth"),
    "CleanAndJerk": (
        "a person lifts a weight from the floor to the shoulders, then pushes it overhead",
        "someone squats, pulls both hands up to the chest, then thrusts the arms straight up",
        "a person lifts with both hands, dips the knees and drives the arms above the head"),
    "CliffDiving": (
        "a person jumps off a high ledge and falls with the arms spread",
        "someone leaps forward from a cliff, stretching the arms over the head",
        "a person stands at an edge, swings the arms and dives forward"),
    "CricketBowling": (
        "a person runs in, jumps and swings one straight arm over the head to bowl",
        "someone sprints forward, leaps and releases a ball with a windmill arm",
        "a person takes a run-up and whips the arm over the shoulder while striding"),
    "CricketShot": (
        "a person stands sideways and swings a bat with both hands",
        "someone steps forward and drives both arms through in a swing",
        "a person crouches slightly, lifts the bat back and swings it forward"),
    "CuttingInKitchen": (
        "a person stands at a counter and moves one hand up and down in a chopping motion",
        "someone leans slightly forward and cuts with short rapid strokes of one arm",
        "a person holds something down with one hand and chops with the other"),
    "Diving": (
        "a person jumps from a board, tucks or twists in the air and dives head first",
        "someone springs up, spins and enters the water with the arms over the head",
        "a person bounces, leaps and rotates forward before diving down"),
    "Drumming": (
        "a person sits and strikes downward with both hands alternately",
        "someone beats a drum, moving both arms up and down rhythmically",
        "a person hits in front of them with quick alternating hand movements"),
    "Fencing": (
        "a person lunges forward with one arm extended and then steps back",
        "someone moves back and forth in a sideways stance, thrusting one arm forward",
        "a person shuffles forward and lunges with the front arm pointed"),
    "FieldHockeyPenalty": (
        "a person bends forward and flicks a stick low with both hands",
        "someone steps forward crouched and swings the arms low across the body",
        "a person leans down and pushes a ball forward with a quick sweep of the arms"),
    "FloorGymnastics": (
        "a person runs, flips and tumbles across the floor",
        "someone does cartwheels and somersaults, landing with the arms raised",
        "a person runs a few steps, springs into a handspring and lands"),
    "FrisbeeCatch": (
        "a person runs, jumps and reaches up with one hand to catch",
        "someone leaps and stretches an arm to grab a disc in the air",
        "a person sprints forward and catches something above the head"),
    "FrontCrawl": (
        "a person swims forward, circling the arms alternately overhead",
        "someone lies forward and pulls one arm after the other while kicking",
        "a person swims freestyle with alternating overarm strokes"),
    "GolfSwing": (
        "a person stands with the feet apart and swings both arms back and through",
        "someone holds a club with both hands, turns the shoulders back and swings",
        "a person bends slightly forward, lifts both arms over the shoulder and swings down"),
    "Haircut": (
        "a person stands beside someone and moves both hands around their head",
        "someone holds one hand near another person's head and makes small cutting motions",
        "a person leans forward and works with both hands at head height"),
    "Hammering": (
        "a person raises one arm and brings it down repeatedly in front of them",
        "someone swings a hammer down again and again with one hand",
        "a person bends forward and strikes downward with short forceful blows"),
    "HammerThrow": (
        "a person spins around several times with both arms extended and throws",
        "someone swings the arms in circles overhead, turns quickly and releases",
        "a person rotates in place with both arms out, then lets go with a big swing"),
    "HandStandPushups": (
        "a person in a handstand bends and straightens the arms",
        "someone upside down against a wall lowers the head and pushes back up",
        "a person balances on the hands with the legs up and does push ups"),
    "HandstandWalking": (
        "a person walks forward on the hands with the legs in the air",
        "someone does a handstand and moves along by stepping with the hands",
        "a person balances upside down and walks on the hands"),
    "HeadMassage": (
        "a person stands behind someone and moves both hands on their head",
        "someone rubs another person's head with both hands in small circles",
        "a person leans over and kneads with the fingers at head height"),
    "HighJump": (
        "a person runs in a curve, jumps backwards over a bar and lands on the back",
        "someone sprints, leaps off one foot and arches the back in the air",
        "a person takes a run-up and jumps high, turning the back to the bar"),
    "HorseRace": (
        "a person rides crouched forward, bouncing with the motion",
        "someone leans low over a horse and pumps the arms forward",
        "a person races crouched high in the saddle, moving the hands back and forth"),
    "HorseRiding": (
        "a person sits upright and bobs up and down while riding",
        "someone rides a horse, the body rocking gently with the hands in front",
        "a person sits with the legs apart and moves rhythmically up and down"),
    "HulaHoop": (
        "a person circles the hips continuously with the arms raised",
        "someone rotates the waist in fast circles while standing in place",
        "a person keeps a hoop spinning by moving the hips back and forth"),
    "IceDancing": (
        "two people glide and spin together, one lifting the other",
        "a person skates smoothly, turning and extending the arms gracefully",
        "someone glides on one leg with the arms out and spins"),
    "JavelinThrow": (
        "a person runs holding one arm back and then throws forward over the shoulder",
        "someone takes a run-up, plants the front foot and hurls with one arm",
        "a person sprints, turns sideways and throws with a straight overhead arm"),
    "JugglingBalls": (
        "a person stands still and tosses and catches with both hands in quick circles",
        "someone juggles, the hands moving up and down alternately in front of the chest",
        "a person keeps the elbows in and throws upward with both hands in turn"),
    "JumpingJack": (
        "a person jumps, spreading the legs and clapping the hands overhead, then jumps back",
        "someone does jumping jacks, arms and legs opening and closing together",
        "a person repeatedly jumps with the arms going up and out and back down"),
    "JumpRope": (
        "a person jumps in place repeatedly while turning both hands at the sides",
        "someone skips rope, hopping on both feet and circling the wrists",
        "a person bounces on the toes again and again with the hands low at the hips"),
    "Kayaking": (
        "a person sits and paddles, rotating the torso and alternating the arms left and right",
        "someone pulls a paddle through the water on one side, then on the other",
        "a person seated with the legs forward swings both arms alternately side to side"),
    "Knitting": (
        "a person sits and moves both hands close together in small repeated motions",
        "someone holds the hands in front of the chest and makes tiny movements",
        "a person knits, the fingers and wrists moving while the arms stay still"),
    "LongJump": (
        "a person sprints, jumps far forward and lands with both feet in front",
        "someone runs fast, takes off from one foot and swings the legs forward to land",
        "a person runs, leaps and stretches the arms and legs forward in the air"),
    "Lunges": (
        "a person steps forward into a lunge and returns, alternating legs",
        "someone lowers the back knee toward the floor, then stands up again",
        "a person does walking lunges with the hands on the hips"),
    "MilitaryParade": (
        "a person marches forward in step, swinging the arms stiffly",
        "someone walks with straight legs and a rigid upright posture",
        "a person marches in formation, lifting the legs high"),
    "Mixing": (
        "a person stands and stirs in front of them with one hand in circles",
        "someone holds a bowl with one hand and mixes with quick circular motions",
        "a person moves one arm round and round at waist height"),
    "MoppingFloor": (
        "a person pushes the arms back and forth low in front while stepping",
        "someone holds a mop with both hands and sweeps it side to side",
        "a person leans forward slightly and moves both arms left and right across the floor"),
    "Nunchucks": (
        "a person swings one arm quickly around the body and over the shoulders",
        "someone spins a weapon with fast wrist movements, passing it from hand to hand",
        "a person stands in a stance and whirls one arm in rapid circles"),
    "ParallelBars": (
        "a person supports the body on both arms and swings the legs back and forth",
        "someone on two bars swings up into a handstand and back down",
        "a person holds themselves up on straight arms and swings the body"),
    "PizzaTossing": (
        "a person tosses something up with both hands and catches it, spinning it",
        "someone throws a dough up from the hands and catches it again",
        "a person moves both hands up quickly with a twist and catches"),
    "PlayingCello": (
        "a person sits and draws one arm back and forth across the body",
        "someone plays the cello, one hand at the neck, the other bowing sideways",
        "a person seated with the knees apart moves the right arm left and right"),
    "PlayingDaf": (
        "a person holds a frame drum up with both hands and taps it with the fingers",
        "someone keeps both hands raised in front of the face and strikes rhythmically",
        "a person holds the hands up and moves the fingers quickly"),
    "PlayingDhol": (
        "a person stands and beats a drum at the waist with both hands",
        "someone strikes a drum on both sides with alternating arms",
        "a person beats downward with the hands at waist height"),
    "PlayingFlute": (
        "a person holds both hands to one side of the mouth with the elbows raised",
        "someone plays the flute, the arms held to the right, swaying slightly",
        "a person stands with the hands together beside the face, moving the fingers"),
    "PlayingGuitar": (
        "a person strums with one hand at the waist while the other hand holds up to the side",
        "someone sits and strums a guitar, the right arm moving up and down",
        "a person plays the guitar, one arm stretched out and the other strumming"),
    "PlayingPiano": (
        "a person sits and moves both hands across in front of them",
        "someone plays the piano, the arms moving left and right at table height",
        "a person sits upright and presses down with the fingers of both hands"),
    "PlayingSitar": (
        "a person sits cross-legged and plucks with one hand while the other moves along the neck",
        "someone seated holds an instrument diagonally and strums with the right hand",
        "a person sits on the floor with one arm raised to the side and plays"),
    "PlayingTabla": (
        "a person sits and taps quickly in front of them with both hands",
        "someone strikes two small drums with the fingers of both hands",
        "a person seated on the floor moves both hands rapidly up and down"),
    "PlayingViolin": (
        "a person holds one arm up at the shoulder and moves the other arm back and forth",
        "someone plays the violin, the bow arm sliding sideways at chin height",
        "a person tilts the head to the left and bows with the right arm"),
    "PoleVault": (
        "a person runs holding a pole, plants it and swings up over the bar",
        "someone sprints, pushes off and lifts the legs over the head to vault",
        "a person runs with both hands forward, jumps and turns upside down in the air"),
    "PommelHorse": (
        "a person supports themselves on the hands and swings the legs in circles",
        "someone on a pommel horse swings the legs around while shifting the hands",
        "a person circles the legs widely while balancing on straight arms"),
    "PullUps": (
        "a person hangs from a bar and pulls the body up, then lowers it",
        "someone does pull ups, bending the arms to lift the chin above the hands",
        "a person hanging with the arms overhead pulls up and down repeatedly"),
    "Punch": (
        "a person throws a punch forward with one fist",
        "someone punches with the left and right hand while moving the feet",
        "a person steps forward and punches, then pulls the fist back"),
    "PushUps": (
        "a person in a plank lowers the chest to the floor and pushes back up",
        "someone does push ups, bending and straightening the arms",
        "a person lying face down pushes up with both arms repeatedly"),
    "Rafting": (
        "a person sits and paddles forward with both arms on one side",
        "someone kneels and strokes a paddle through the water, leaning forward",
        "a person seated rocks forward and back while pulling with both arms"),
    "RockClimbingIndoor": (
        "a person climbs a wall, reaching up with one hand and stepping up with the feet",
        "someone pulls themselves up a wall, moving one limb at a time",
        "a person climbs upward, stretching the arms above the head"),
    "RopeClimbing": (
        "a person climbs up a rope, pulling with one hand over the other",
        "someone hangs from a rope and pulls the body up with the arms, gripping with the legs",
        "a person reaches up alternately with both hands and climbs a rope"),
    "Rowing": (
        "a person sits and pulls both arms back while pushing with the legs, then slides forward",
        "someone rows, leaning back as the hands come to the chest",
        "a person extends the arms forward, bends the knees, then pulls back strongly"),
    "SalsaSpin": (
        "a person spins around under a raised arm",
        "two people dance, one turning in place while the other holds a hand up",
        "a person steps side to side and twirls around quickly"),
    "ShavingBeard": (
        "a person holds one hand at the jaw and strokes slowly downward",
        "someone tilts the head and moves one hand along the cheek",
        "a person keeps one hand near the face and makes short strokes"),
    "Shotput": (
        "a person crouches with one hand at the neck, turns and pushes the arm out to throw",
        "someone glides backward, rotates and puts a heavy ball forward with one arm",
        "a person spins and thrusts the arm up and forward from the shoulder"),
    "SkateBoarding": (
        "a person pushes off the ground with one foot and glides forward",
        "someone rides a board, crouches and jumps up with it",
        "a person stands sideways with bent knees, balancing with the arms out"),
    "Skiing": (
        "a person glides down with the knees bent and the arms held forward",
        "someone skis, shifting weight left and right with the poles at the sides",
        "a person crouches slightly and turns the body from side to side while sliding"),
    "Skijet": (
        "a person stands bent forward holding on with both hands, bouncing",
        "someone rides a jet ski, leaning into turns with the arms forward",
        "a person crouches and holds the handles, the body jolting up and down"),
    "SkyDiving": (
        "a person falls through the air with the arms and legs spread out",
        "someone free falls face down, arms bent and legs apart",
        "a person floats with the limbs stretched wide, turning slowly"),
    "SoccerJuggling": (
        "a person keeps a ball in the air with small kicks of the feet and knees",
        "someone juggles a ball, lifting one leg after the other",
        "a person hops lightly and taps the ball up with the foot again and again"),
    "SoccerPenalty": (
        "a person runs up a few steps and kicks a ball with the right foot",
        "someone approaches with a short run and swings one leg to shoot",
        "a person steps forward, plants one foot and kicks hard"),
    "StillRings": (
        "a person hangs from two rings and holds the body still with the arms out",
        "someone on the rings swings up and pushes into a support position",
        "a person lifts the body on straight arms and holds it steady"),
    "SumoWrestling": (
        "a person crouches low and pushes forward against another person",
        "two people grapple and shove each other with the knees bent",
        "a person in a wide squat lunges forward with both hands"),
    "Surfing": (
        "a person stands sideways with bent knees, arms out for balance, gliding",
        "someone rides a wave, crouching and shifting the weight",
        "a person pops up from lying to standing and balances with the arms wide"),
    "Swing": (
        "a person sits and swings back and forth, bending and straightening the legs",
        "someone on a swing leans back and pushes the legs forward, then tucks them",
        "a person swings high, the body going forward and backward"),
    "TableTennisShot": (
        "a person stands bent forward and hits with a quick short swing of one arm",
        "someone plays table tennis, stepping sideways and swinging the forearm",
        "a person crouches slightly and strikes with a fast flick of the hand"),
    "TaiChi": (
        "a person moves slowly, shifting weight from leg to leg with the arms flowing",
        "someone performs tai chi, pushing the hands forward slowly in a wide stance",
        "a person steps gently and circles the arms in slow smooth motions"),
    "TennisSwing": (
        "a person steps and swings one arm across the body to hit",
        "someone swings a racket from back to front, turning the shoulders",
        "a person stands sideways and swings the arm forward in a wide arc"),
    "ThrowDiscus": (
        "a person spins around with one arm extended and throws",
        "someone turns quickly in a circle and releases with a sweeping arm",
        "a person swings the arm back, rotates the whole body and flings forward"),
    "TrampolineJumping": (
        "a person bounces up and down high on a trampoline",
        "someone jumps repeatedly, swinging the arms up with each bounce",
        "a person jumps high, tucks the knees and lands to bounce again"),
    "Typing": (
        "a person sits and moves the fingers over a table in front of them",
        "someone types with both hands held low and still",
        "a person sits upright with the hands forward, tapping quickly"),
    "UnevenBars": (
        "a person swings around a high bar and flips between two bars",
        "someone hangs from a bar, swings the legs up and circles around it",
        "a person swings back and forth and releases to catch another bar"),
    "VolleyballSpiking": (
        "a person runs a few steps, jumps and swings one arm down hard",
        "someone leaps with both arms up and hits downward with one hand",
        "a person takes an approach, jumps high and spikes with the right arm"),
    "WalkingWithDog": (
        "a person walks forward holding one arm out in front",
        "someone walks at a steady pace with one hand holding a leash",
        "a person strolls forward, one arm slightly extended and pulled"),
    "WallPushups": (
        "a person leans against a wall and bends and straightens the arms",
        "someone stands facing a wall and pushes away from it repeatedly",
        "a person does push ups against a wall, the body tilting forward and back"),
    "WritingOnBoard": (
        "a person stands facing a board and moves one raised hand in small strokes",
        "someone writes on a wall with one arm raised and steps sideways",
        "a person holds one hand up in front of them and writes, then steps back"),
    "YoYo": (
        "a person stands and flicks one hand down and up repeatedly",
        "someone plays with a yo-yo, the forearm moving up and down",
        "a person holds one hand in front and jerks it up and down"),
}

# UCF101's class index and folder spelling -> the spelling of its video file names.
CLASS_ALIASES = {"HandstandPushups": "HandStandPushups"}


def resolve_classes(names) -> list[str]:
    """Class tags as written in the file names for `names` (aliases accepted); unknown names are errors."""
    tags, unknown = [], []
    for name in names:
        tag = CLASS_ALIASES.get(name, name)
        (tags if tag in UCF101_CAPTIONS else unknown).append(tag)
    if unknown:
        import difflib

        hints = [f"{n!r} (did you mean {', '.join(repr(m) for m in difflib.get_close_matches(n, UCF101_CAPTIONS, 2))}?)"
                 if difflib.get_close_matches(n, UCF101_CAPTIONS, 2) else repr(n) for n in unknown]
        raise UserError(f"unknown UCF101 class {', '.join(hints)}; the classes are spelled as in the video "
                        f"file names, e.g. BaseballPitch, JumpRope, YoYo")
    return list(dict.fromkeys(tags))
