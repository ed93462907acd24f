"""What kind of thing a target names: a company, a market index, or something that is not a company.

Sources disagree on what a target is. SEntFiN marks every entity of a headline: companies, but also indices, the
market regulator (Sebi, RBI), currencies (rupee, dollar), commodities (gold, oil), places (China, Wall Street) and
market segments ("IT stocks", "European shares"); FiQA marks the company or two a sentence is about. A user of
entity-level sentiment on news asks about companies (and the indices they trade in): a regulator, a city or "Wall
Street" answered as a company is a wrong answer there. So every answered target carries its ``kind``, and the joint
task can answer a text of unknown source with chosen kinds only (``task.answer_kinds``).

The kind is read from the name alone, conservatively: a name is one of the non-company kinds only when the **whole**
name (case, a leading "the", a possessive and words such as "prices" or "futures" aside) is a known currency,
commodity, regulator or place, or a market segment ("IT stocks", "banks"). Everything else is a company, so "Gold
Fields", "Oil India", "China Mobile", "Bank of America", "FedEx" and a cashtag such as "$GOLD" stay companies while
"gold", "oil", "China", "Bank of England" and "Fed" do not. Given the text it was found in, a name written all in
lower case where the text capitalises other words is a common noun, not a company ("auto", "management"), and a
name the text writes after a person's title ("Chief Executive Elon Musk", later "Musk") is a person, and a news outlet
or data vendor the text cites for its news ("according to LSEG data", "told Reuters", "...: WSJ") is a source.
"""

from __future__ import annotations

import re

__all__ = ["ENTITY_KINDS", "COMPANY", "INDEX", "CURRENCY", "COMMODITY", "POLICY", "PLACE", "SEGMENT", "PERSON",
           "SOURCE", "INDEX_NAMES", "entity_kind", "listed_kind", "written_as_common_noun"]

COMPANY, INDEX, CURRENCY, COMMODITY, POLICY, PLACE, SEGMENT, PERSON, SOURCE = (
    "company", "index", "currency", "commodity", "policy", "place", "segment", "person", "source")
#: Every kind a target can be: a company (or any organisation not listed below: the default), a market index, a
#: currency, a commodity, a policy maker (regulator, central bank, government body), a place, a market segment, a
#: person (named after a title in the text), a source (a news outlet or data vendor the text cites for its news).
ENTITY_KINDS = (COMPANY, INDEX, CURRENCY, COMMODITY, POLICY, PLACE, SEGMENT, PERSON, SOURCE)

#: Market indices as the news writes them (lower case); a target that is one of these is of kind ``index``.
INDEX_NAMES = frozenset({
    "s&p", "s&p 500", "s&p500", "s&p/asx 200", "s&p/tsx", "dow", "dow jones", "dow jones industrial average", "djia",
    "nasdaq", "nasdaq composite", "nasdaq 100", "nasdaq-100", "russell 2000", "ftse", "ftse 100", "ftse 250",
    "ftse all-share", "dax", "cac", "cac 40", "stoxx 600", "stoxx europe 600", "euro stoxx 50", "nikkei",
    "nikkei 225", "topix", "hang seng", "hang seng index", "kospi", "sensex", "nifty", "nifty 50", "nifty50",
    "bank nifty", "cnx nifty", "cnx it", "asx", "asx 200", "tsx", "ibex", "ibex 35", "aex", "smi", "mib", "ftse mib",
    "shanghai composite", "csi 300", "msci world", "vix", "spx", "ndx",
})
_CURRENCIES = {
    "dollar", "us dollar", "u.s. dollar", "greenback", "euro", "yen", "yuan", "china yuan", "renminbi", "rupee",
    "indian rupee", "sterling", "pound", "british pound", "pound sterling", "franc", "swiss franc", "won", "rouble",
    "ruble", "peso", "lira", "rand", "real", "krona", "krone", "ringgit", "baht", "rupiah", "aussie",
    "australian dollar", "canadian dollar", "loonie", "kiwi", "bitcoin", "ether", "ethereum", "forex", "currency",
    "currencies",
}
_COMMODITIES = {
    "gold", "silver", "platinum", "palladium", "copper", "nickel", "zinc", "aluminium", "aluminum", "iron ore",
    "steel", "oil", "crude", "crude oil", "brent", "brent crude", "wti", "natural gas", "gas", "coal", "wheat",
    "corn", "soybeans", "soybean", "soyabean", "sugar", "coffee", "cocoa", "cotton", "rubber", "palm oil", "bullion",
    "metals", "base metals", "precious metals", "commodities", "commodity", "gold and silver", "cardamom", "guar",
    "chana", "jeera", "mentha oil", "turmeric", "soy oil",
}
_POLICY = {
    "fed", "federal reserve", "fomc", "ecb", "european central bank", "bank of england", "boe",
    "bank of japan", "boj", "pboc", "people's bank of china", "rbi", "reserve bank", "reserve bank of india",
    "reserve bank of australia", "rba", "snb", "swiss national bank", "bundesbank", "sec", "cftc", "fca", "finra",
    "ftc", "doj", "justice department", "department of justice", "treasury", "us treasury", "u.s. treasury", "imf",
    "world bank", "opec", "opec+", "european commission", "eu", "european union", "sebi", "irda", "irdai", "cci",
    "competition commission", "cma", "ofgem", "ofcom", "fda", "congress", "senate", "white house", "government",
    "govt", "parliament", "finance ministry", "cbdt", "trai", "pfrda", "nhb", "forward markets commission",
    "cabinet", "centre", "supreme court", "high court",
}
#: The last word of a body that makes or enforces policy ("Securities and Exchange Commission", "Finance Ministry").
_POLICY_ENDINGS = ("ministry", "commission", "authority", "regulator", "department", "government", "court", "bureau",
                   "tribunal", "parliament", "central bank", "reserve bank")
_PLACES = {
    "wall street", "wall st", "dalal street", "main street", "the city", "city of london", "silicon valley",
    "washington", "beijing", "tokyo", "london", "new york", "hong kong", "shanghai", "shenzhen", "mumbai", "delhi",
    "new delhi", "frankfurt", "paris", "zurich", "singapore", "sydney", "toronto", "seoul", "dubai", "moscow",
    "brussels", "us", "u.s.", "usa", "america", "united states", "uk", "u.k.", "britain", "great britain",
    "england", "china", "india", "japan", "germany", "france", "italy", "spain", "greece", "russia", "brazil",
    "canada", "australia", "korea", "south korea", "taiwan", "iran", "iraq", "saudi arabia", "mexico", "turkey",
    "switzerland", "ireland", "europe", "asia", "africa", "latin america", "middle east", "eurozone", "euro zone",
    "gulf", "emerging markets",
}
#: A market segment: a word for stocks or companies as a group, alone ("markets", "Banks") or written in lower case
#: after other words ("IT stocks", "PSU banks", "European shares"; "CMC Markets" and "Sun Pharma" are companies).
_SEGMENT_WORDS = ("stocks", "shares", "equities", "markets", "market", "bourses", "bonds", "caps", "funds", "banks",
                  "lenders", "miners", "insurers", "carmakers", "automakers", "companies", "firms", "sector",
                  "sectors", "scrips", "counters", "indices", "bourse", "stock", "equity", "pharma", "realty",
                  "fmcg", "midcaps", "smallcaps", "largecaps", "treasuries", "gilts", "bunds")
#: A person as news names one: a title, then the name in capitalised words (group 1): "Chief Executive Elon Musk",
#: "Federal Reserve Chair Jerome Powell", "analyst Dan Ives". Titles that also stand before companies ("investor
#: Elliott Management") are left out.
_PERSON_AFTER_TITLE = re.compile(
    r"\b(?:Chief (?:Executive|Financial|Operating|Investment) Officer|Chief Executive|CEO|CFO|COO|Chairman|"
    r"Chairwoman|Chairperson|Chair|Vice President|President|Governor|Minister|Secretary|Senator|[Aa]nalyst|"
    r"[Cc]o-founder|[Ff]ounder|[Ee]conomist|[Ss]trategist|[Bb]illionaire|[Bb]oss|[Ss]pokes(?:man|woman|person)|"
    r"Mr|Ms|Mrs|Dr)\.?\s+((?:[A-Z][\w'’.-]*\s+){0,2}[A-Z][\w'’-]+)")
#: News outlets and data vendors (lower case): of kind ``source`` where the text cites one for its news.
_NEWS_SOURCES = {
    "reuters", "thomson reuters", "bloomberg", "bloomberg news", "refinitiv", "lseg", "factset", "dow jones",
    "dow jones newswires", "associated press", "ap", "afp", "cnbc", "cnbc-tv18", "et now", "financial times", "ft",
    "wall street journal", "wsj", "barron's", "barrons", "marketwatch", "sky news", "bbc", "cnn", "fox business",
    "yomiuri", "nikkei", "kyodo", "xinhua", "caixin", "handelsblatt", "pti", "ians", "press trust of india",
    "economic times", "business standard", "mint", "moneycontrol", "seeking alpha", "benzinga", "zacks",
    "the information",
}
#: How a text cites its source (the name written where ``{}`` is): "according to Refinitiv data", "told Reuters",
#: "Bloomberg reported", "Reuters calculations", a headline's "...: WSJ" or "... - Sky News" at its end (a link
#: after it aside), "Reuters: ..." at its start.
_CITATIONS = (
    r"(?:according to|told|citing|cited by|reported by|in an interview with|speaking to)\s+(?:the\s+)?"
    r"(?:data\s+(?:from|by)\s+)?{}(?![\w&])",
    r"(?<![\w&]){}(?:['’]s)?\s+(?:news\s+)?(?:data|calculations|reported|reports|first reported|poll|survey|"
    r"showed|shows|tally|IBES)\b",
    r"[:|–—-]\s*{}\s*(?:https?://\S+\s*)*$",
    r"^\s*{}\s*:",
)
#: A web address names a site (a company): "moneycontrol.com", "www.example.in".
_WEB_ADDRESS = re.compile(r"\.[a-z]{2,}\b|^www\.")
#: Words written after a currency, commodity or index that do not change what it names ("gold prices").
_QUALIFIERS = re.compile(r"\s+(?:prices?|futures|rates?|spot|contracts?|output|demand|supply|imports|exports)$")


def _normalised(name: str) -> str:
    name = " ".join(name.replace("’", "'").split()).casefold().strip(" .,;:!?\"")
    name = re.sub(r"^the\s+", "", name)
    name = re.sub(r"'s?$", "", name).strip()
    return name.lstrip("$")


def entity_kind(name: str, text: str | None = None) -> str:
    """The kind of ``name`` (one of ``ENTITY_KINDS``): ``index``, ``currency``, ``commodity``, ``policy``, ``place``
    or ``segment`` when the whole name is one, else ``company`` (see the module docstring). With ``text``, the text
    the name was found in, a name written all in lower case in a text that writes other words with capitals is a
    common noun ("auto", "capital goods", "10-year bond", "management"), of kind ``segment``: names of companies are
    capitalised (no FiQA training target is written in lower case; SEntFiN's lower-case targets are sectors, assets
    and commodities), while a text written all in lower case ("apple up 3%") keeps its names companies."""
    name_as_written, name = name, _normalised(name)
    if not name:
        return COMPANY
    if name_as_written.strip().startswith("$"):  # a cashtag is a listed security ("$OIL", "$GOLD"), or an index
        return INDEX if name in INDEX_NAMES else COMPANY
    if text is not None and name in _NEWS_SOURCES and _cited_as_source(name_as_written, text):
        return SOURCE
    if name.endswith(" index"):  # "Singapore index", "Shanghai Composite Index"
        return INDEX
    if kind := listed_kind(name_as_written):
        return kind
    if name.endswith(_POLICY_ENDINGS):
        return POLICY
    words, written = name.split(), name_as_written.split()
    if words[-1] in _SEGMENT_WORDS and (len(words) == 1 or written[-1].islower()):
        return SEGMENT
    if text is not None and written_as_common_noun(name_as_written, text):
        return SEGMENT
    if text is not None and _named_person(name, text):
        return PERSON
    return COMPANY


def listed_kind(name: str) -> str | None:
    """The kind whose list of names holds ``name`` (an index, a currency, a commodity, a policy maker or a place;
    "European Central Bank", "FTSE 100"), qualifiers such as "futures" or "prices" aside; None for a name no list
    holds."""
    name = _normalised(name)
    bare = _QUALIFIERS.sub("", name)
    for kind, names in ((INDEX, INDEX_NAMES), (CURRENCY, _CURRENCIES), (COMMODITY, _COMMODITIES), (POLICY, _POLICY),
                        (PLACE, _PLACES)):
        if name in names or bare in names:
            return kind
    return None


def _cited_as_source(name: str, text: str) -> bool:
    """Whether ``text`` cites ``name`` (as written) for its news: "according to LSEG data", "told Reuters", "Nikkei
    reported", "...: WSJ" (``_CITATIONS``); "Bloomberg buys ..." names a company, "the Nikkei fell" an index."""
    written = re.escape(" ".join(name.split()).strip(" .,")).replace(r"\ ", r"\s+")
    return any(re.search(pattern.format(written), text, flags=re.IGNORECASE) for pattern in _CITATIONS)


def _named_person(name: str, text: str) -> bool:
    """Whether ``name`` (normalised) is a person the text names after a title, in full or by the surname; a
    surname the text also writes at the start of a longer name ("Dell" of "Dell Technologies", "Ford" of "Ford Motor
    Co") stays a company."""
    for match in _PERSON_AFTER_TITLE.finditer(text):
        person = _normalised(match.group(1))
        if name == person:
            return True
        if " " in person and name == person.split()[-1]:
            return not re.search(r"(?<![\w-])(?i:" + re.escape(name) + r")\s+[A-Z]", text)
    return False


def written_as_common_noun(name: str, text: str) -> bool:
    """Whether ``name`` is written all in lower case (a web address such as "moneycontrol.com", and a cashtag the
    text writes with its "$", such as "$cree", aside) in a ``text`` that capitalises words after its first letter."""
    name = name.strip()
    return (any(c.isalpha() for c in name) and not any(c.isupper() for c in name)
            and not _WEB_ADDRESS.search(name) and not re.search(r"\$" + re.escape(name.lstrip("$")) + r"\b", text)
            and any(c.isupper() for c in text[1:]))
