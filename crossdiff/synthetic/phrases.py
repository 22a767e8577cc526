"""Verb phrases describing each synthetic action family from its parameters.

A verb phrase is a list of (verb lemma, tail) pairs joined by "and"; the sentence builder
(`captions`) inflects the verbs ("walks", "is walking", "walking") and fills `{poss}`.
Every parameter a caption states (left/right, speed, direction, count) is visible in the motion.
"""

from __future__ import annotations

VerbPhrase = list[tuple[str, str]]

COUNTS = {1: ["once", ""], 2: ["twice", "two times"], 3: ["three times"], 4: ["four times", "several times"],
          5: ["five times", "several times"], 6: ["six times", "several times"]}


def _count(n: int, rng) -> str:
    return str(rng.choice(COUNTS.get(n, ["several times"])))


def _speed_walk(speed: float, rng) -> str:
    if speed < 0.85:
        return str(rng.choice(["slowly", "at a slow pace", "leisurely"]))
    if speed > 1.25:
        return str(rng.choice(["quickly", "fast", "briskly", "at a fast pace"]))
    return str(rng.choice(["", "", "at a normal pace", "steadily"]))


def _walk(p, rng) -> list[VerbPhrase]:
    d, speed = p["direction"], _speed_walk(p["speed"], rng)
    if p["path"] == "circle":
        sense = "counterclockwise" if d == "left" else "clockwise"
        return [[("walk", f"in a circle {speed}")], [("walk", f"{sense} in a full circle")],
                [("walk", f"around in a circle to the {d} {speed}")], [("stroll", f"in a {sense} circle")]]
    if p["path"] == "curve":
        return [[("walk", f"forward {speed} curving to the {d}")], [("walk", f"in a curve to the {d} {speed}")],
                [("walk", f"along a curve to the {d}")], [("walk", f"{speed} and turn to the {d}")]]
    verb = "stroll" if p["speed"] < 0.85 else "walk"
    return [[("walk", f"forward {speed}")], [(verb, f"straight ahead {speed}")], [("walk", f"{speed} forward")],
            [("walk", f"forwards {speed}")], [("move", f"forward {speed}")]]


def _jog(p, rng) -> list[VerbPhrase]:
    return [[("jog", "forward")], [("jog", "forward at an easy pace")], [("jog", "straight ahead")],
            [("run", "forward slowly")], [("jog", "lightly forward")]]


def _run(p, rng) -> list[VerbPhrase]:
    fast = "very fast" if p["speed"] > 3.4 else str(rng.choice(["fast", "quickly"]))
    return [[("run", "forward")], [("run", f"forward {fast}")], [("sprint", "forward")], [("run", "straight ahead")],
            [("run", f"{fast} forward")]]


def _walk_backward(p, rng) -> list[VerbPhrase]:
    speed = "slowly" if p["speed"] < 0.7 else str(rng.choice(["", "steadily"]))
    return [[("walk", f"backwards {speed}")], [("walk", f"backward {speed}")], [("step", f"backwards {speed}")],
            [("back", f"up {speed}")], [("move", "backward")]]


def _side_step(p, rng) -> list[VerbPhrase]:
    d = p["direction"]
    return [[("sidestep", f"to the {d}")], [("step", f"sideways to the {d}")], [("shuffle", f"to the {d}")],
            [("walk", f"sideways to the {d}")], [("move", f"sideways to the {d}")]]


def _turn(p, rng) -> list[VerbPhrase]:
    d = p["direction"]
    if p["angle_deg"] > 140:
        return [[("turn", f"around to the {d}")], [("turn", f"around to the {d}")], [("make", f"a half turn to the {d}")],
                [("turn", f"to the {d} to face the opposite direction")]]
    return [[("turn", d)], [("turn", f"to the {d}")], [("turn", f"ninety degrees to the {d}")], [("rotate", f"to the {d}")]]


def _spin(p, rng) -> list[VerbPhrase]:
    # Every phrasing says how many turns: a third of spins turn twice, and a caption that does not say so
    # gives the model no way to tell 360 from 720 degrees.
    sense = p["direction"]
    times, circles = ("twice", "two full circles") if p["turns"] == 2 else ("once", "a full circle")
    return [[("spin", f"around {sense} {times}")], [("spin", f"around {times}")], [("turn", f"around in {circles} {sense}")],
            [("twirl", f"{sense} {times}")], [("spin", f"{sense} in place {times}")]]


def _crouch_walk(p, rng) -> list[VerbPhrase]:
    return [[("walk", "forward while crouching")], [("sneak", "forward crouched low")],
            [("crouch", "down"), ("walk", "forward")], [("walk", "forward in a crouched position")]]


def _jump_in_place(p, rng) -> list[VerbPhrase]:
    # Heights span 0.12-0.4 m; every phrasing names the low and the high third, so the height a caption
    # leaves open stays within 0.2-0.3 m.
    n = _count(p["repetitions"], rng)
    size = "high" if p["height"] > 0.3 else "slightly" if p["height"] < 0.2 else ""
    return [[("jump", f"{size} in place {n}")], [("jump", f"{size} up and down {n}")], [("jump", f"up {size} {n}")],
            [("jump", f"in place {size} {n}")]]


def _jump_forward(p, rng) -> list[VerbPhrase]:
    n = _count(p["repetitions"], rng)
    far = "far" if p["distance"] > 0.75 else ""
    return [[("jump", f"{far} forward {n}")], [("leap", f"forward {n}")], [("jump", f"forwards {n}")],
            [("jump", f"ahead {n}")]]


def _hop(p, rng) -> list[VerbPhrase]:
    leg, n = p["leg"], _count(p["repetitions"], rng)
    return [[("hop", f"on {{poss}} {leg} leg {n}")], [("hop", f"on the {leg} foot {n}")],
            [("balance", f"on {{poss}} {leg} leg"), ("hop", n)], [("jump", f"on {{poss}} {leg} foot {n}")]]


def _squat(p, rng) -> list[VerbPhrase]:
    n = _count(p["repetitions"], rng)
    deep = "deeply" if p["depth"] > 0.35 else ""
    arms = "with {poss} arms stretched forward" if p["arms_forward"] else ""
    return [[("squat", f"down {deep} {n} {arms}")], [("squat", f"{n} {arms}")], [("crouch", f"down {n}"), ("stand", "back up")],
            [("squat", f"{deep} {arms} {n}")]]


def _kick(p, rng) -> list[VerbPhrase]:
    leg, n = p["leg"], _count(p["repetitions"], rng)
    high = "high" if p["height"] > 1.3 else ""
    return [[("kick", f"{high} with {{poss}} {leg} leg {n}")], [("kick", f"{{poss}} {leg} foot forward {n}")],
            [("kick", f"forward with the {leg} leg {n}")], [("kick", f"{n} with {{poss}} {leg} foot")]]


def _punch(p, rng) -> list[VerbPhrase]:
    n = _count(p["repetitions"], rng)
    if p["hand"] == "both":
        return [[("punch", f"with both hands {n}")], [("punch", "forward with both fists")],
                [("box", f"with both hands {n}")], [("punch", "forward with one hand and then the other")]]
    hand = p["hand"]
    return [[("punch", f"with {{poss}} {hand} hand {n}")], [("punch", f"forward with the {hand} fist {n}")],
            [("punch", f"{n} with {{poss}} {hand} hand")], [("throw", f"punches with {{poss}} {hand} hand")]]


def _wave(p, rng) -> list[VerbPhrase]:
    hand = p["hand"]
    quick = "quickly" if p["period"] < 0.45 else ""
    return [[("wave", f"{{poss}} {hand} hand {quick}")], [("wave", f"with {{poss}} {hand} hand")],
            [("raise", f"{{poss}} {hand} hand"), ("wave", quick)], [("wave", f"{quick} with the {hand} hand")]]


def _raise_arms(p, rng) -> list[VerbPhrase]:
    n = "twice" if p["repetitions"] == 2 else ""
    where = {"overhead": ["above {poss} head", "over {poss} head", "up in the air"],
             "forward": ["in front of {poss} body", "forward to shoulder height", "straight forward"],
             "sideways": ["out to the sides", "sideways to shoulder height", "out to the side"]}[p["style"]]
    return [[("raise", f"both arms {where[0]} {n}")], [("lift", f"{{poss}} arms {where[1]} {n}")],
            [("raise", f"both arms {where[2]}"), ("lower", "them again")], [("put", f"both arms {where[0]} {n}")]]


def _clap(p, rng) -> list[VerbPhrase]:
    n = _count(p["repetitions"], rng)
    quick = "quickly" if p["period"] < 0.4 else ""
    return [[("clap", f"{{poss}} hands {n}")], [("clap", f"{quick} {n}")], [("clap", f"{{poss}} hands together {quick}")],
            [("clap", f"{n} in front of {{poss}} body")]]


def _bow(p, rng) -> list[VerbPhrase]:
    how = "deeply" if p["depth"] > 0.85 else "slightly" if p["depth"] < 0.6 else ""
    return [[("bow", how)], [("bend", f"forward at the waist {how}")], [("take", f"a bow {how}")],
            [("bow", f"down {how}"), ("stand", "back up")]]


PHRASES = {
    "walk": _walk, "jog": _jog, "run": _run, "walk_backward": _walk_backward, "side_step": _side_step,
    "turn": _turn, "spin": _spin, "crouch_walk": _crouch_walk, "jump_in_place": _jump_in_place,
    "jump_forward": _jump_forward, "hop": _hop, "squat": _squat, "kick": _kick, "punch": _punch,
    "wave": _wave, "raise_arms": _raise_arms, "clap": _clap, "bow": _bow,
}
