"""Reading a label as a person would: normalised words become concepts, with negation and literals.

`read(label, vocab)` turns "Sorting (ascending order)", "The model computes a histogram of token
counts" or "count of 'a' tokens" into a `Reading`: the concepts the label names (`sort`,
`ascending`, `histogram`, `count`, `lit:a`, …), the concepts it negates ("not descending",
"without duplicates" is a phrase of its own), and the text each came from. The matcher
(agent/scoring/labels.py) compares a reading with a task's concept spec (agent/scoring/concepts.py).

The steps, in order:
1. formulas and notation become words (`[::-1]` reversed, `i-1` previous, `+1` plus one, `% 2` mod two);
2. literal tokens are found where a person marks them: quoted ('a', "x", `(`), "token b",
   "a's", "number of a" at the end, a bare single letter other than the article "a";
3. camelCase, underscores and punctuation are split into lower-case words;
4. the LEXICON, an ordered list of (concepts, pattern), is scanned: each phrase that matches is
   consumed, so a longer phrase ("reverse order", "non-decreasing", "not seen before") wins over
   its parts ("order", "decreasing", "not"); words no entry names are ignored;
5. a negator ("not", "no", "non", "without", "never") negates the next concept within three words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

NUMBERS = frozenset({"one", "two", "many"})
"""Number concepts: they matter only to a task whose spec names one (a shift by two, Dyck-1)."""

# (concepts, pattern): scanned in this order; a match is consumed (its text is not read again).
# Patterns are regular expressions over lower-case words separated by single spaces; each is
# wrapped in word boundaries. Concepts () mark filler phrases that must not be read as concepts.
LEXICON: list[tuple[tuple[str, ...], str]] = [
    (("identity",), r"no ?op|noop|no change|(maps?|mapped|sent|goes|returns?|outputs?) (to )?itself|(is |are |left )?unchanged"),
    (("contains",), r"(occurs?|appears?|present|exists?|shows? up) (somewhere |anywhere )?(in|within) (the )?(input|sequence|list|string|tokens)"),
    ((), r"or not|if so|or otherwise|the model|this model|the program|the task|computes?|computing|calculates?|"
         r"outputs?|returns?|produces?|implements?|gives?|yields?|emits?|task|program|function|algorithm|"
         r"operation|op|transformer|circuit|rasp|tracr|make|ignoring( other| the other)?( \w+)?|skipping|"
         r"(keep\w*|with|allow\w*|including|retain\w*) duplicates?|duplicates? (kept|allowed|retained|preserved)|"
         r"at each position|for each position|at every position|per position output|"
         r"(the )?(whole|entire|full|complete)|in place"),
    (("abc",), r"abcpattern|abc|a then b then c|a followed by b( followed by| then| and)? c"),
    (("palindrome",), r"palindrom\w*|reads? the same (forwards?|backwards?|both ways)( and (forwards?|backwards?))?|"
                      r"same (forwards?|backwards?) (and|as) (forwards?|backwards?)|symmetric\w*|"
                      r"equals? (its|the) (own )?revers\w*( \w+)?|same as (its|the) revers\w*( \w+)?"),
    (("sort", "check"), r"sortedness|in sorted order check"),
    (("rank",), r"rank\w*|argsort|position in (the )?sorted order|sorted (position|index)|order statistics?"),
    (("gather",), r"gather\w*|look ?up|lookup|index(es|ing)? into|pointer\w*|indirect\w*|"
                  r"(cop\w*|read\w*|fetch\w*|tak\w*|get\w*) (the token )?(from|at) (the )?(position|index|place)( \w+)? (given|named|chosen|picked|selected) by"),
    (("novel",), r"novel\w*|new (token|value|symbol|element|letter)s?|first time|"
                 r"first (seen|appearance|occurrences?|instances?|sighting)|"
                 r"not (been |yet )?(seen|appeared|occurred)( before| earlier| previously)?|never seen( before)?|"
                 r"unseen|seen for the first time|no earlier (occurrence|copy|instance|appearance)s?|"
                 r"has not appeared( before| earlier)?|not a repeat of an earlier"),
    (("repeat",), r"repeat\w*|repetition|stutter\w*|doubled|"
                  r"same as (the )?(previous|prior|preceding|last)( token| one| element| symbol)?|"
                  r"equals? (to )?(the )?(previous|prior|preceding)( token| one| element| symbol)?|"
                  r"(immediate|adjacent|consecutive) (duplicate|repeat|repetition)s?"),
    (("swap",), r"swap\w*|exchang\w*|transpos\w*|"
                r"(flip\w*|switch\w*|interchang\w*) (adjacent |neighbou?ring |consecutive )?(pairs?|neighbou?rs)|"
                r"xor ?(1|one)|i xor 1"),
    (("reverse",), r"last (token |element |one )?first|(revers\w*|invert\w*|flip\w*|mirror\w*)( the| its| their)?( input| tokens?| sequence| list| elements?)? order|"
                   r"order revers\w*|revers\w*|backwards?|back to front|right to left|last to first|"
                   r"end to start|mirror\w*|flip\w*|invert\w*|read from the end"),
    (("ascending",), r"(in )?(ascending|increasing|non ?decreasing)( order)?|ascend\w*|"
                     r"(from )?(smallest|lowest|least|small|low|min) (to|first)( \w+)?( largest| highest| greatest| large| high| max)?|"
                     r"upward"),
    (("descending",), r"(in )?(descending|decreasing|non ?increasing)( order)?|descend\w*|"
                      r"(from )?(largest|highest|greatest|biggest|large|high|max) (to|first)( \w+)?( smallest| lowest| least| small| low| min)?|"
                      r"downward"),
    (("stable",), r"stabl[ey]|(keep\w*|preserv\w*|maintain\w*|retain\w*) (the )?(original |relative |input |same )?order\w*|"
                  r"ties? (are )?(broken|kept|resolved) by (position|index|order|appearance)|"
                  r"(original|relative|input) order|in order of (first )?appearance|order of appearance"),
    (("unique",), r"uniq\w*|distinct\w*|deduplicat\w*|dedup\w*|(remov\w*|drop\w*|without|no) (the )?duplicates?|"
                  r"different (values|tokens|symbols|elements|letters)|different"),
    (("duplicate",), r"duplicat\w*|dupes?"),
    (("rare",), r"rare\w*|infrequent\w*|less (frequent\w*|common)|low frequency|uncommon|"
                r"(at most|no more than|not more than) (twice|two times|2 times|two|2)|"
                r"(twice|two times|2 times) or (less|fewer)|frequency (at most|of at most|<=|le) (2|two)"),
    ((), r"at least|at most"),
    (("fraction",), r"fraction\w*|proportion\w*|percent\w*|share|ratio|relative frequenc\w*|frac|prevalence|density|rate"),
    (("histogram",), r"histogram\w*|hist|histo|frequency (table|counts?|map)|bincount|counter"),
    (("mean",), r"arithmetic (mean|average)|mean|means|averag\w*|avg|expected value|"
                r"sum (divided by|over|/) (the )?(length|count|n|len|number of \w+)"),
    (("sort", "frequency", "descending"), r"most (common|frequent)( \w+)? first"),
    (("frequency", "max"), r"most (common|frequent)|mode"),
    (("frequency",), r"frequenc\w*|frequent\w*|freqs?|how often|popularity|commonness"),
    (("sort",), r"sort\w*|order(s|ed|ing)?|arrang\w*"),
    (("permutation",), r"permut\w*|reorder\w*|rearrang\w*|shuffl\w*"),
    (("each_token",), r"(each|every|its|own|this|current|given|their)( own)? (token|element|item|symbol|character|letter|value|entry|entries|number)s?|"
                      r"per (token|element|symbol|value|item|character|letter)|(token|element|symbol|value|letter)s? itself|"
                      r"(current|this|that) one|itself|its own|own"),
    (("occurrence",), r"occurr\w*|occurs?|appear\w*|instances?|times (it|that|they)? ?(appears?|occurs?|shows up)|shows? up"),
    (("count",), r"how many times|number of times|count\w*|tally\w*|tallies|number of|how many|cnt|num|amount of|quantity of|#"),
    (("length",), r"length|len|size|how long"),
    (("contains",), r"contain\w*|includ\w*|presen(t|ce)|exist\w*|membership|member|any|is there|there is|"
                    r"anywhere|somewhere"),
    (("balanced",), r"balanced|well ?formed|well ?nested|properly (nested|matched|closed|balanced)|"
                    r"valid (parenthes\w*|paren\w*|brackets?|bracket sequence|nesting|braces)|"
                    r"matched (parenthes\w*|paren\w*|brackets?)|(bracket|parenthes\w*|paren) matching|nesting check|validity"),
    (("balance",), r"balance|imbalance|net (open|depth|count|balance)|depth|nesting level|"
                   r"opens? minus closes?|open minus clos\w*"),
    (("dyck",), r"shuffle ?dyck|dyck"),
    (("braces",), r"braces|curly( brackets?| braces)?"),
    (("paren",), r"parenthes[ie]s|parenthetical|parens?|brackets?"),
    (("index", "max"), r"argmax|arg max|position of the max\w*|index of the max\w*"),
    (("index", "min"), r"argmin|arg min|position of the min\w*|index of the min\w*"),
    (("max",), r"max\w*|largest|biggest|greatest|highest|top value|argmax"),
    (("min",), r"min|mins|minimum|minimal|minimise|minimize|smallest|lowest|least(?! \w+ to)"),
    (("greater",), r"greater|bigger|larger|higher|more than|above|exceed\w*|>"),
    (("less",), r"less|smaller|lower|fewer|below|under|<"),
    (("running",), r"partial(?= (sums?|counts?|means?|averages?|max\w*|min\w*))|running|prefix(es)?|cumulative\w*|cum|so far|up to (and including )?(here|this position|now|i|it|the current (position|one|token)|position i|that point)|"
                   r"until now|causal\w*|scan|through (position )?i|to date|(at or )?before (it|this position|position i|here)"),
    (("identity",), r"identity|identical (copy|map\w*|output)|unchanged|unmodified|no ?op|noop|no change|as is|"
                    r"same as (the )?input|input (equals|=) output|pass ?through|passes through|echo\w*"),
    (("increment",), r"increment\w*|incr|inc|successor|(add|adds|adding|added|plus) (one|1)|one more"),
    (("parity",), r"parit\w*|odd\w*|even\w*|(mod|modulo) (2|two)|low bit|lsb"),
    (("mod",), r"mod|modulo|modulus|remainder"),
    (("arith",), r"scal\w*|squar\w*|times|multipl\w*|divid\w*|halv\w*|half|doubl\w*|quarter\w*|polynomial|affine|linear map|"
                 r"arithmetic|numeric map|power|cube\w*|negat\w*|absolute|abs|distance from|clip\w*|clamp\w*|cap(ped)? at"),
    (("difference",), r"minus|difference|subtract\w*|diff"),
    (("plus",), r"plus|add\w*|sum|sums|summ\w*"),
    (("index",), r"ind(ex|ices|exes)|idx|(its|own|the token s|token s) position|position (number|index)"),
    (("equal",), r"same|equal\w*|identical|match\w*|coincid\w*|=+|equals"),
    (("first",), r"first|1st|initial|leading|leftmost|start|beginning|position 0|index 0|0th|zeroth"),
    (("last",), r"last|final|trailing|rightmost|end"),
    (("previous",), r"(positions?|steps?|places?|tokens?) (back|earlier|before|ago|behind)|back|previous\w*|prev|preceding|precedes|prior|before|earlier|behind|one back|left neighbou?r"),
    (("next",), r"next|following|subsequent|succeeding|upcoming|one ahead|ahead|right neighbou?r"),
    (("shift", "right"), r"delay\w*|lag\w*"),
    (("shift",), r"shift\w*|offset\w*|displac\w*|mov(e|es|ed|ing) (over )?by|translat\w*"),
    (("rotate",), r"(the )?(first|front|leading) (token |element |symbol )?(moves? |goes |is moved |wraps )?(to|around to) the (end|back)|rotat\w*|roll\w*|circular\w*|cyclic\w*|cycl\w*|wrap\w*( around)?"),
    (("left",), r"left\w*"),
    (("right",), r"right\w*"),
    (("pair",), r"pairs?|pairwise|in twos|two by two"),
    (("adjacent",), r"adjacent|neighbou?r\w*|consecutive|successive|immediate\w*|in a row|back to back"),
    (("copy",), r"cop(y|ies|ied|ying)|read\w*|fetch\w*|look\w* up|retriev\w*|takes?|taking|gets?|grab\w*|mov(e|es|ed|ing)"),
    (("broadcast",), r"broadcast\w*|everywhere|(to|at|across|in|for) (all|every|each) (the )?positions?|global\w*|sequence ?wide|overall"),
    (("elementwise",), r"element ?wise|point ?wise|token ?wise|position ?wise|per (position|element)|maps?|mapping|"
                       r"applied to each|sequence ?map|sequencemap|nary|n ary"),
    (("check",), r"check\w*|whether|test\w*|verif\w*|predicate|boolean|bool|true if|true iff|true when|iff|is it|"
                 r"detect\w*|recogni[sz]\w*|determin\w*|decid\w*|classif\w*|yes or no|validat\w*"),
    (("flag",), r"flag\w*|indicator|mark\w*|bit|mask"),
    (("constant",), r"constant|uniform\w*|homogeneous|monoton(e|ous) sequence|single (value|token) repeated"),
    (("all",), r"all|every"),
    (("pattern",), r"pattern\w*|substring|subsequence|n ?gram|trigram|motif"),
    (("partial",), r"almost|approximate\w*|roughly|partial\w*|partly|nearly|mostly|sometimes|kind of|somewhat|half"),
    (("except",), r"except\w*|excluding|exclusive of|other than|apart from|save for|but|unless|besides"),
    (("token",), r"tokens?|elements?|items?|symbols?|characters?|chars?|letters?|values?|entries|entry|numbers?|"
                 r"integers?|digits?|ints?|words?"),
    (("one",), r"one|1|once|single"),
    (("two",), r"two|2|twice|both"),
    (("many",), r"three|four|five|six|seven|eight|nine|ten|\d+"),
]

NEGATORS = frozenset({"not", "no", "non", "without", "never", "nor", "neither", "cannot", "isnt", "doesnt", "dont",
                      "arent", "lacks", "lacking"})
NEGATION_WINDOW = 3
"""A negator negates the first concept within this many words after it."""

# Notation a person types in a label, rewritten into words before anything else.
FORMULAS: list[tuple[str, str]] = [
    (r"^\s*(output|out|outputs|y|result|res|f\s*\([^)]*\))\s*(\[\s*i\s*\])?\s*=(?!=)", " "),
    (r"\[\s*::\s*-\s*1\s*\]", " reversed "),
    (r"\bn\s*-\s*1\s*-\s*i\b|\bn\s*-\s*i\s*-\s*1\b|\b-\s*i\s*-\s*1\b", " reversed "),
    (r"\bi\s*\^\s*1\b", " xor 1 "),
    (r"\bi\s*-\s*1\b", " previous "),
    (r"\bi\s*\+\s*1\b", " next "),
    (r"\bi\s*-\s*2\b", " previous two "),
    (r"\bi\s*\+\s*2\b", " next two "),
    (r"%\s*2\b", " mod 2 "),
    (r"%", " mod "),
    (r"\+\s*1\b", " plus 1 "),
    (r"\+\s*(i|idx|index|pos|position)\b", " plus index "),
    (r"(?<![<>=!])==?(?!=)", " equals "),
    (r"<=|≤", " at most "),
    (r">=|≥", " at least "),
    (r"!=|≠", " not equal "),
    (r"->|→|=>", " to "),
    (r"\+", " plus "),
    (r"(?<=\w)\s*/\s*(?=len|length|n\b)", " divided by "),
    (r"n't\b", " not"),
]

_QUOTES = "'\"`\u2018\u2019\u201c\u201d"
_QUOTED = re.compile(rf"[{_QUOTES}]([^\s{_QUOTES}]{{1,3}})[{_QUOTES}]")
_ABC = re.compile(rf"(?<![a-z])[{_QUOTES}]?a[{_QUOTES}]?\s*[,\-\s]\s*[{_QUOTES}]?b[{_QUOTES}]?\s*[,\-\s]\s*[{_QUOTES}]?c[{_QUOTES}]?(?![a-z])")
_TOKEN_WORD = r"(?:tokens?|letters?|symbols?|characters?|chars?|values?)"


@dataclass
class Reading:
    """What a label names: its concepts (negated ones apart), and the text each concept came from."""
    concepts: set = field(default_factory=set)
    negated: set = field(default_factory=set)
    evidence: list = field(default_factory=list)
    """(concept, the words that named it), in the order read."""
    literals: set = field(default_factory=set)
    """Literal tokens the label names (e.g. 'a'), also present in `concepts` as lit:TOKEN."""


def _literals(text: str, vocab: set) -> tuple[str, list[str]]:
    """Marks the literal tokens of `vocab` that `text` names (each becomes the word zlitN)."""
    found: list[str] = []

    def mark(value: str) -> str:
        found.append(value)
        return f" zlit{len(found) - 1} "

    text = _QUOTED.sub(lambda m: mark(m.group(1)) if m.group(1) in vocab else m.group(0), text)
    for v in sorted(v for v in vocab if len(v) == 1 and v.isalpha()):
        e = re.escape(v)
        text = re.sub(rf"\b{_TOKEN_WORD}\s+{e}\b(?!\s*{_TOKEN_WORD})", lambda m, v=v: mark(v), text)  # "token b"
        text = re.sub(rf"\b{e}'s\b", lambda m, v=v: mark(v), text)  # "b's"
        if v == "a":  # the article: a literal only where it cannot be one
            text = re.sub(r"\ba\s+(?=(tokens|letters|symbols|characters|chars|values)\b)", lambda m: mark("a"), text)
            text = re.sub(r"\b(of|is|equal to|equals|than|to|contains?|count)\s+a\s*$",
                          lambda m: m.group(1) + mark("a"), text)
            text = re.sub(r"^\s*a\s*$", lambda m: mark("a"), text)
        else:  # a bare letter that is a token: "count b", "fraction of x"
            text = re.sub(rf"(?<![\w']){e}s?(?![\w'])", lambda m, v=v: mark(v), text)
    return text, found


def words_of(label: str) -> list[str]:
    """Lower-case words of `label`: camelCase and snake_case split, punctuation dropped."""
    label = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", label)
    return re.findall(r"[a-z0-9]+|[<>#=]", label.lower().replace("_", " "))


_COMPILED = [(concepts, re.compile(rf"(?<![\w])(?:{p})(?![\w])")) for concepts, p in LEXICON]
_MARK = "\ue000"
"""Consumed phrases become one private-use character each: no pattern (ASCII words) can match them."""


def _marker(kind: str, index: int) -> str:
    return f" {_MARK}{kind}{chr(0xE100 + index)} "


def read(label: str, vocab=()) -> Reading:
    """The concepts `label` names for a task whose tokens are `vocab`."""
    vocab = {str(v).lower() for v in vocab}
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", label.strip()).lower()
    if {"a", "b", "c"} <= vocab:
        text = _ABC.sub(" abcpattern ", text)
    text, found = _literals(text, vocab)
    for pattern, words in FORMULAS:
        text = re.sub(pattern, words, text)
    text = " ".join(words_of(text))
    text = re.sub(r"^(is|are|does|do|has|have)\b", "whether", text)  # "is sorted", "does it contain"
    # "tokens equal to a", "share of tokens that are a": the literal says it all
    text = re.sub(r"\b(equal to|equals|equal|that are|which are|that is|which is|being|is|are)\s+(?=zlit\d)", "", text)
    text = re.sub(r"\bzlit(\d+)\b", lambda m: _marker("L", int(m.group(1))), text)
    reading = Reading(literals=set(found))
    hits: list[tuple[str, ...]] = []

    def consume(concepts, m):
        hits.append(concepts)
        reading.evidence.extend((c, m.group(0)) for c in concepts)
        return _marker("C", len(hits) - 1)

    for concepts, rx in _COMPILED:
        text = rx.sub(lambda m, c=concepts: consume(c, m), text)
    pending = 0
    for word in text.split():
        if word in NEGATORS:
            pending = NEGATION_WINDOW + 1
            continue
        if word.startswith(_MARK):
            index = ord(word[2]) - 0xE100
            concepts = (f"lit:{found[index]}",) if word[1] == "L" else hits[index]
            if concepts and pending:
                reading.negated.update(concepts)
                pending = 0
            else:
                reading.concepts.update(concepts)
            continue
        pending = max(0, pending - 1)
    reading.evidence.extend((f"lit:{v}", repr(v)) for v in found)
    return reading
