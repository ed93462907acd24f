"""Targets as a user names them and as a text writes them: alias matching of given targets, and one company as
one target when decoding (fragments joined, tickers attached, possessives and lone suffixes dropped)."""

from __future__ import annotations

import pytest

from finabsa.data.entity_kinds import entity_kind
from finabsa.data.records import Example
from finabsa.data.spans import locate_target, target_aliases
from finabsa.tasks.joint.decoding import merge_fragments
from finabsa.tasks.target import token_features

#: text | the target a user gives | how it is found | the text it is found as (-: not in the text). Other spacing
#: or punctuation matches whole words only ("Meta" is not in "metals"); a capitalised name written in lower case
#: in a capitalised text is a common word ("price target"), in an all-lower-case text still the name; nicknames
#: ("VW", "StanChart") are not derived; initials given are found as the name they stand for, written in full ("SEC");
#: two initials alone name too much ("US" is no "Union Steel"); the last two
#: rows: a generic word alone ("Bank") is not the company.
GIVEN_TABLE = """
Barclays shares fall after results      | Barclays PLC             | alias  | Barclays
Lloyds Banking Group cuts 3,000 jobs    | Lloyds Banking Group PLC | alias  | Lloyds Banking Group
BHP and Rio Tinto lead miners higher    | BHP Group Ltd            | alias  | BHP
The Walt Disney Co said on Tuesday      | The Walt Disney Co       | exact  | The Walt Disney Co
Walt Disney beat estimates              | The Walt Disney Co       | alias  | Walt Disney
Apple Inc <AAPL.O> rose 2%              | $AAPL                    | ticker | <AAPL.O>
Shares of Coca-Cola (KO.N) slid         | $KO                      | ticker | (KO.N)
$TSLA breaking out                      | TSLA                     | exact  | TSLA
Sainsbury's slumps on price war         | J Sainsbury PLC          | word   | Sainsbury
Sainsbury's slumps on price war         | Sainsbury's              | exact  | Sainsbury's
Morrisons sales fall again              | Morrissons               | fuzzy  | Morrisons
IBM beats on cloud revenue              | International Business Machines Corp | acronym | IBM
HUL, ITC gain on rural demand           | Hindustan Unilever Ltd   | acronym | HUL
SBI raises deposit rates                | State Bank of India      | acronym | SBI
L&T bags Rs 2,000 crore order           | Larsen & Toubro Ltd      | acronym | L&T
Coca-Cola raised its annual forecast    | Coca Cola Co             | spelling | Coca-Cola
McDonald's same-store sales beat        | McDonalds Corp           | spelling | McDonald's
Shares in Rolls-Royce soared            | Rolls Royce Holdings PLC | spelling | Rolls-Royce
Coca Cola shares slid                   | Coca-Cola                | spelling | Coca Cola
Shares of JP Morgan fell                | JPMorgan Chase & Co      | word   | JP Morgan
Amazon shares rose 3%                   | Amazon.com Inc           | alias  | Amazon
GSK shares rose after the trial         | GlaxoSmithKline plc      | acronym | GSK
The U.S. Securities and Exchange Commission sued Coinbase | SEC | initials | Securities and Exchange Commission
Royal Bank of Scotland shares fell      | RBS                      | initials | Royal Bank of Scotland
Apple shares rose in the US             | USA                      | none   | -
Base metals slump                       | Meta Platforms Inc       | none   | -
Goldman cut its price target on Target  | Target Corp              | alias  | Target
Goldman Sachs raised its price target   | Target Corp              | none   | -
Apple Inc's shell company was dissolved | Shell                    | none   | -
apple up 3% today                       | Apple                    | exact  | apple
Google parent Alphabet reported strong ad sales | Alphabet Inc     | alias  | Alphabet
Disney shares rose 5%                   | The Walt Disney Company  | word   | Disney
AT&T cut its dividend                   | AT&T Inc.                | alias  | AT&T
Shell shares slid as oil prices fell    | Royal Dutch Shell plc    | word   | Shell
Berkshire posted a record profit        | Berkshire Hathaway Inc   | word   | Berkshire
Tesla's market value jumped             | Tesla, Inc.              | alias  | Tesla
Facebook owner Meta slumped 20%         | Meta Platforms           | word   | Meta
Reliance Industries shares rose 3 per cent | Reliance Industries Limited | alias | Reliance Industries
Infosys shares fell 2%                  | Infosys Ltd.             | alias  | Infosys
Wells Fargo & Co agreed to pay $3.7 billion | Wells Fargo          | exact  | Wells Fargo
VW shares fell 4% on the emissions probe | Volkswagen AG           | none   | -
HSBC rose, while StanChart disappointed | Standard Chartered       | none   | -
US stocks fell on Monday                | Union Steel              | none   | -
levi strauss & co gained 2%             | Levi Strauss & Co        | exact  | levi strauss & co
Tesco shares surge                      | BP                       | none   | -
Bank shares rally                       | Bank of America Corp     | none   | -
"""
GIVEN = [tuple(None if cell.strip() == "-" else cell.strip() for cell in line.split("|"))
         for line in GIVEN_TABLE.strip().splitlines()]


@pytest.mark.parametrize("text, target, how, found", GIVEN)
def test_a_given_target_is_found_by_name_alias_ticker_acronym_or_word(text, target, how, found):
    match = locate_target(text, target)
    assert match.how == how
    assert match.located == (found is not None)
    if found is not None:
        start, end = match.spans[0]
        assert text[start:end] == found


def test_aliases_drop_legal_suffixes_articles_and_possessives():
    assert target_aliases("Lloyds Banking Group PLC") == ["Lloyds Banking Group", "Lloyds Banking"]
    assert target_aliases("The Walt Disney Co") == ["Walt Disney"]
    assert target_aliases("Sainsbury's") == ["Sainsbury"]
    assert target_aliases("Tesco") == []
    assert target_aliases("Amazon.com Inc") == ["Amazon.com", "Amazon"]


#: (text, the spans the tagger marked, the targets after merging, with a ticker where one was attached)
FRAGMENTS = [
    ("Levi Strauss & Co <LEVI.N> gained 2% after its quarterly results beat Wall Street estimates",
     ["Levi Strauss", "Co", "<LEVI.N>", "Wall Street"], [("Levi Strauss & Co", "LEVI.N"), ("Wall Street", None)]),
    ("Levi Strauss & Co <LEVI.N> gained 2%", ["Levi Strauss", "<LEVI.N>"], [("Levi Strauss & Co", "LEVI.N")]),
    ("Levi Strauss & Co <LEVI.N> gained 2%", ["Levi Strauss & Co", "LEVI"], [("Levi Strauss & Co", "LEVI.N")]),
    # A piece of the bracketed ticker (the exchange letter after the dot) is still the ticker, not a target.
    ("Levi Strauss & Co <LEVI.N> gained 2%", ["Levi Strauss & Co", "N"], [("Levi Strauss & Co", "LEVI.N")]),
    ("Apple <AAPL.O> and Tesla rose", ["Apple", "AAPL", "Tesla"], [("Apple", "AAPL.O"), ("Tesla", None)]),
    # A wire service's bare codes: an index's ".SPX", a share's "XOM.N"; a name the tagger ran on into its code ends
    # before it. "U.S." is no ticker.
    ("The S&P 500 .SPX rose 0.5%", ["S&P 500", "SPX"], [("S&P 500", ".SPX")]),
    # A span that ends a listed name of another kind takes the capitalised words of that name before it.
    ("Federal Reserve Chair Jerome Powell said", ["Reserve"], [("Federal Reserve", None)]),
    ("Stocks on Wall Street fell", ["Street"], [("Wall Street", None)]),
    ("Apple and Reserve Petroleum rose", ["Apple", "Petroleum"], [("Apple", None), ("Petroleum", None)]),
    # A possessive, or the word "index", may stand between a name and its code.
    ("The S&P 500 index .SPX rose 0.5%", ["S&P 500", "SPX"], [("S&P 500", ".SPX")]),
    ("Apple's (AAPL.O) shares hit a record", ["Apple's", "AAPL"], [("Apple", "AAPL.O")]),
    ("Exxon Mobil Corp XOM.N fell 2%", ["Exxon Mobil Corp XOM."], [("Exxon Mobil Corp", "XOM.N")]),
    ("Exxon Mobil Corp <XOM.N> fell 2%", ["Exxon Mobil Corp <XOM"], [("Exxon Mobil Corp", "XOM.N")]),
    ("Ford F.N and U.S. Steel fell", ["Ford", "U.S. Steel"], [("Ford", None), ("U.S. Steel", None)]),
    ("Exxon XOM.N, Chevron CVX.N fell", ["Exxon", "XOM.N", "Chevron", "CVX"], [("Exxon", "XOM.N"),
                                                                                ("Chevron", "CVX.N")]),
    # The ticker closes the name: capitalised words the tagger left before it belong to the name.
    ("The Dow Jones Industrial Average <.DJI> rose", ["Dow Jones", ".DJI"], [("Dow Jones Industrial Average", ".DJI")]),
    ("Apple and Tesla <TSLA.O> rose", ["Apple", "TSLA"], [("Apple", None), ("Tesla", "TSLA.O")]),
    ("Nissan Motor Co <7201.T> rose", ["Nissan Motor Co", "T"], [("Nissan Motor Co", "7201.T")]),
    # A company named again with the word for its shares is that company; a market or a sector keeps its word.
    ("Alphabet Inc's Google was fined, though Alphabet shares were flat", ["Alphabet Inc's", "Alphabet shares"],
     [("Alphabet Inc", None), ("Alphabet", None)]),
    ("Apple rose and European shares fell", ["Apple", "European shares"], [("Apple", None), ("European shares", None)]),
    ("IT stocks rose", ["IT stocks"], [("IT stocks", None)]),
    # A listed name of a kind other than company takes its first words the tagger left out.
    ("after the European Central Bank raised rates", ["Central Bank"], [("European Central Bank", None)]),
    ("after the Lloyds Central Bank unit", ["Central Bank"], [("Central Bank", None)]),
    # A wire code alone (the tagger missed its name): the capitalised words just before it are the name ("The"
    # aside); after a lower-case word there is no name to take.
    ("U.S. stocks closed higher, with the S&P 500 .SPX gaining", ["U.S. stocks", "SPX"],
     [("U.S. stocks", None), ("S&P 500", ".SPX")]),
    ("The S&P 500 .SPX rose", [".SPX"], [("S&P 500", ".SPX")]),
    ("Stocks rose and the index .SPX gained", ["SPX"], [("SPX", None)]),
    # A name with "&" inside one word is one word: the letters before the "&" take the rest (and an index its
    # number).
    ("Wall Street ended lower, with the S&P 500 down", ["Wall Street", "S"], [("Wall Street", None),
                                                                              ("S&P 500", None)]),
    ("AT&T shares fell", ["AT"], [("AT&T", None)]),
    # A name that starts after a capitalised word and a hyphen takes it; "pan-European" is no name.
    ("Anheuser-Busch InBev SA said", ["Busch InBev SA"], [("Anheuser-Busch InBev SA", None)]),
    ("the pan-European STOXX 600 fell", ["European STOXX 600"], [("European STOXX 600", None)]),
    ("REFILE-Hikma and Barclays help the FTSE", ["Hikma", "Barclays"], [("Hikma", None), ("Barclays", None)]),
    ("Serco to appoint Roy Gardner, Ex-Centrica, as chairman", ["Serco", "Centrica"],
     [("Serco", None), ("Centrica", None)]),
    ("Bank of America Corp shares fell", ["Bank of", "America"], [("Bank of America Corp", None)]),
    # A span that ends in a connector takes the capitalised words written after it: no name ends in "of".
    ("Lloyds rose after the Bank of England held rates", ["Lloyds", "Bank of"], [("Lloyds", None),
                                                                                  ("Bank of England", None)]),
    ("Bank of New York Mellon rose", ["Bank of"], [("Bank of New York Mellon", None)]),
    ("Procter & Gamble rose", ["Procter &"], [("Procter & Gamble", None)]),
    # A capitalised word the tagger left out of a name that ends in a legal suffix joins its two parts; between two
    # names without a suffix it is a headline's verb.
    ("Shares of Walgreens Boots Alliance Inc fell", ["Walgreens", "Alliance Inc"],
     [("Walgreens Boots Alliance Inc", None)]),
    ("Apple Beats Microsoft In Cloud", ["Apple", "Microsoft"], [("Apple", None), ("Microsoft", None)]),
    ("with Papua New Guinea-based Lihir Gold Ltd", ["New", "Lihir Gold Ltd"],
     [("New", None), ("Lihir Gold Ltd", None)]),
    ("Are Aviva plc, Direct Line Insurance Group PLC And Admiral Group plc Set To Soar?",
     ["Aviva plc", "Direct Line Insurance Group PLC", "Group plc"],
     [("Aviva plc", None), ("Direct Line Insurance Group PLC", None), ("Group plc", None)]),
    # A span that begins on a connector takes the capitalised words written right before it (after "of", a body's
    # name only); with none there, or after the span before, the connector goes.
    ("The U.S. Securities and Exchange Commission sued Coinbase", ["and Exchange Commission", "Coinbase"],
     [("U.S. Securities and Exchange Commission", None), ("Coinbase", None)]),
    ("Shares of Bank of America rose", ["of America"], [("Bank of America", None)]),
    ("Shares of Tesla rose", ["of Tesla"], [("Tesla", None)]),
    ("Apple and Microsoft rose", ["Apple", "and Microsoft"], [("Apple", None), ("Microsoft", None)]),
    ("Apple, and Microsoft rose", ["and Microsoft"], [("Microsoft", None)]),
    # A company's name that the tagger ran back over the words describing it ends them; not a sector written from a
    # lower-case word, a name with a lower-case word inside, or a body of another kind.
    ("Shares in Swiss bank UBS Group AG rose", ["Swiss bank UBS Group AG"], [("UBS Group AG", None)]),
    ("Apple supplier Foxconn said", ["Apple supplier Foxconn"], [("Foxconn", None)]),
    ("Buy largecap IT stocks on dips", ["largecap IT stocks"], [("largecap IT stocks", None)]),
    ("Marks and Spencer Group rose", ["Marks and Spencer Group"], [("Marks and Spencer Group", None)]),
    ("Skandinaviska Enskilda Banken AB publ Helsinki Branch has", ["Skandinaviska Enskilda Banken AB publ Helsinki"],
     [("Skandinaviska Enskilda Banken AB publ Helsinki", None)]),
    ("a contract from Aluminij dd Mostar", ["Aluminij dd Mostar"], [("Aluminij dd Mostar", None)]),
    ("U.S. regional lender First Republic Bank fell", ["U.S. regional lender First Republic Bank"],
     [("First Republic Bank", None)]),
    ("UK regulator Financial Conduct Authority said", ["UK regulator Financial Conduct Authority"],
     [("UK regulator Financial Conduct Authority", None)]),
    # A connector marked alone joins the spans around it when they make one name, and is no target.
    ("Procter & Gamble rose", ["Procter", "&", "Gamble"], [("Procter & Gamble", None)]),
    ("Bank of America rose", ["Bank", "of", "America"], [("Bank of America", None)]),
    ("Shares of Tesla and Ford rose", ["of", "Tesla", "and", "Ford"], [("Tesla", None), ("Ford", None)]),
    ("the Institute of Museum and Library Services", ["of", "and Library Services"],
     [("Museum and Library Services", None)]),
    # A company's "of" says where it is from; a weekday ends a name; a connector alone names nothing.
    ("Nokia Corp of Finland Tuesday said", ["Nokia Corp of"], [("Nokia Corp", None)]),
    ("Life Insurance Corporation of India buys", ["Life Insurance Corporation of"],
     [("Life Insurance Corporation of India", None)]),
    ("Hans-Otto Scheck of Espoo has developed", ["Scheck of", "Espoo"], [("Scheck", None), ("Espoo", None)]),
    ("The Bank of England Monday held rates", ["Bank of"], [("Bank of England", None)]),
    ("The U.S. Patent & Trademark Office", ["&"], []),
    ("Apple Inc. (AAPL) rose", ["Apple", "(AAPL)"], [("Apple Inc", "AAPL")]),
    ("Procter & Gamble beat forecasts", ["Procter", "Gamble"], [("Procter & Gamble", None)]),
    ("Barclays's profit rose; Tesco Inc fell", ["Barclays's", "Tesco", "Inc"], [("Barclays", None),
                                                                                ("Tesco Inc", None)]),
    ("It is a Barclays s deal", ["Barclays", "s"], [("Barclays", None)]),
    # A name whose "'s" is its own keeps it, and takes it when the tagger stopped before it.
    ("Moody's downgraded Evergrande", ["Moody's", "Evergrande"], [("Moody's", None), ("Evergrande", None)]),
    ("McDonald's sales rose; Dr. Reddy's fell", ["McDonald", "Dr. Reddy"], [("McDonald's", None),
                                                                           ("Dr. Reddy's", None)]),
    # Two companies stay two targets: "and" joins names only across "&", and "co-founder" is no suffix.
    ("Shell and BP rise", ["Shell", "BP"], [("Shell", None), ("BP", None)]),
    # Two capitalised parts side by side are one name; two tickers side by side stay two.
    ("AstraZeneca teams with Daiichi Sankyo", ["AstraZeneca", "Daiichi", "Sankyo"],
     [("AstraZeneca", None), ("Daiichi Sankyo", None)]),
    ("AAPL MSFT rally", ["AAPL", "MSFT"], [("AAPL", None), ("MSFT", None)]),
    ("Kraft, Cadbury rise", ["Kraft", "Cadbury"], [("Kraft", None), ("Cadbury", None)]),
    ("Tesla and co-founder Musk", ["Tesla", "Musk"], [("Tesla", None), ("Musk", None)]),
    ("Tesco shares surge while Sainsbury slumps", ["Tesco", "Sainsbury"], [("Tesco", None), ("Sainsbury", None)]),
    # An index keeps its number; a company's figure is no part of its name.
    ("Apple lifts the S&P 500 to a record", ["Apple", "S&P"], [("Apple", None), ("S&P 500", None)]),
    ("FTSE 100 slips as Tesco falls 3%", ["FTSE", "Tesco"], [("FTSE 100", None), ("Tesco", None)]),
    ("Tesco 100 stores to close", ["Tesco"], [("Tesco", None)]),
    # A word that ends many company names, left out by the tagger, belongs to the name it follows; not after a
    # lower-case word, a name of another kind, or as the next word's start.
    ("Exxon agreed to buy Pioneer Natural Resources", ["Exxon", "Pioneer Natural"],
     [("Exxon", None), ("Pioneer Natural Resources", None)]),
    ("HDFC Bank and Tata Motors rose", ["HDFC", "Tata"], [("HDFC Bank", None), ("Tata Motors", None)]),
    ("Sebi Bank rules and Tata Motorsport", ["Sebi", "Tata"], [("Sebi", None), ("Tata", None)]),
    # The tagger stopped inside a long index name: the rest written after it belongs to it.
    ("The Dow Jones Industrial Average rose", ["Dow Jones Industrial"], [("Dow Jones Industrial Average", None)]),
    ("The Nasdaq Composite fell 1%", ["Nasdaq"], [("Nasdaq Composite", None)]),
    ("Nasdaq composer rose", ["Nasdaq"], [("Nasdaq", None)]),
]


@pytest.mark.parametrize("text, marked, expected", FRAGMENTS)
def test_one_company_is_one_target(tokenizer, text, marked, expected):
    feature = token_features([Example(sentence=text)], tokenizer, 64)[0]
    spans, position = [], 0
    for part in marked:
        start = text.index(part, position)
        end = position = start + len(part)
        tokens = [j for j, (a, b) in enumerate(feature["_offsets"]) if feature["_real"][j] and a < end and b > start]
        spans.append({"text": part, "start": start, "end": end, "score": 0.9, "tokens": tokens})
    merged = merge_fragments(spans, text, feature)
    assert [(t["text"], t.get("ticker")) for t in merged] == expected
    for target in merged:
        assert text[target["start"]:target["end"]] == target["text"]
        assert target["tokens"], "every target keeps the tokens its sentiment is pooled over"


@pytest.mark.parametrize("name, kind", [
    # Companies, even where a word of the name is a commodity, a place or a policy maker's.
    ("Barclays PLC", "company"), ("Gold Fields", "company"), ("Oil India", "company"), ("China Mobile", "company"),
    ("Bank of America", "company"), ("FedEx", "company"), ("HDFC Bank", "company"), ("CMC Markets", "company"),
    ("Sun Pharma", "company"), ("$AAPL", "company"), ("Tata Steel", "company"),
    ("$GOLD", "company"), ("$OIL", "company"), ("$SPX", "index"),
    # Indices, with their number or a qualifier.
    ("S&P 500", "index"), ("Sensex", "index"), ("Nifty futures", "index"), ("Singapore index", "index"),
    ("Dow Jones Industrial Average", "index"),
    # What is not a company.
    ("Wall Street", "place"), ("China", "place"), ("Hong Kong", "place"),
    ("Sebi", "policy"), ("the Fed's", "policy"), ("Bank of England", "policy"), ("European Commission", "policy"),
    ("Securities and Exchange Commission", "policy"), ("Finance Ministry", "policy"),
    ("Consumer Financial Protection Bureau", "policy"),
    ("rupee", "currency"), ("US dollar", "currency"), ("Gold", "commodity"), ("gold prices", "commodity"),
    ("Brent crude", "commodity"),
    ("IT stocks", "segment"), ("PSU banks", "segment"), ("European shares", "segment"), ("Markets", "segment"),
    ("Wall Street stocks", "segment"),
])
def test_a_target_names_its_kind(name, kind):
    assert entity_kind(name) == kind


@pytest.mark.parametrize("name, text, kind", [
    # Lower case where the text capitalises names: a common noun (a sector, an asset, a word the tagger caught).
    ("management", "Morgan Stanley's wealth management unit posted record revenue.", "segment"),
    ("rare disease drugs", "Shire to buy NPS for $5.2 billion to boost rare disease drugs", "segment"),
    ("capital goods", "Optimistic on capital goods: Mayuresh Joshi", "segment"),
    # A company still: capitalised, a cashtag the text writes with its "$", a web address, or a text written all
    # in lower case (its writer capitalises nothing, so case says nothing).
    ("Barclays", "Barclays shares fell.", "company"),
    ("cree", "a big put spread on $cree. Last quarter 0% growth", "company"),
    ("moneycontrol.com", "Top picks from moneycontrol.com: Sensex to rise", "company"),
    ("tesla", "tesla up 3% today, apple flat", "company"),
    # The lexicons come first: lower-case "gold" is a commodity whatever the text.
    ("gold", "Rising gold lifts Titan", "commodity"),
    # A person: named after a title, in full or later by the surname.
    ("Elon Musk", "Tesla Chief Executive Elon Musk said prices would fall", "person"),
    ("Musk", "Tesla Chief Executive Elon Musk said prices would fall, and Musk added that demand held", "person"),
    ("Jerome Powell", "Federal Reserve Chair Jerome Powell said rates would stay high", "person"),
    ("Dan Ives", "Analyst Dan Ives of Wedbush Securities raised his target", "person"),
    ("Tesla", "Tesla Chief Executive Elon Musk said prices would fall", "company"),
    ("Wedbush Securities", "Analyst Dan Ives of Wedbush Securities raised his target", "company"),
    # A surname that also starts a longer name in the text stays a company; no title, no person.
    ("Dell", "Dell Technologies CEO Michael Dell said Dell shares would rise", "company"),
    ("Musk", "Tesla shares slide as Musk sells more stock", "company"),
    # A news outlet or data vendor the text cites for its news is a source; named as the news's subject, it is a
    # company (or an index: "the Nikkei fell").
    ("LSEG", "Analysts had expected earnings of $1.20 per share, according to LSEG data.", "source"),
    ("Reuters", "\"We are pleased,\" Chief Executive Andy Jassy told Reuters in an interview.", "source"),
    ("Bloomberg", "Apple rose 4% after the results, Bloomberg reported.", "source"),
    ("WSJ", "Nasdaq eyes running dark pools for banks: WSJ", "source"),
    ("MarketWatch", "$AAPL iPhone shipments on track - MarketWatch https://t.co/2CXahJIX7d", "source"),
    ("Reuters", "Reuters: Green Mountain revenue misses, shares plunge", "source"),
    ("Bloomberg", "Barclays sells benchmark indices unit to Bloomberg", "company"),
    ("Nikkei", "Toyota plans job cuts, the Nikkei reported", "source"),
    ("Nikkei", "The Nikkei fell 2% as exporters slid", "index"),
])
def test_a_name_read_in_its_text_common_noun_or_person(name, text, kind):
    assert entity_kind(name, text) == kind
    # Without the text, the name alone decides ("Nikkei" is an index by name, a newspaper where a text cites it).
    assert entity_kind(name) in {kind, "company"} | ({"index"} if kind == "source" else set())


def test_a_given_ticker_is_read_with_the_name_written_before_it(tokenizer):
    import numpy as np

    from finabsa.data.labels import SENTIMENT_LABELS
    from finabsa.data.records import Mention
    from finabsa.tasks.joint.decoding import SentimentParts, given_target
    from finabsa.tasks.target import tokens_in_spans

    text = "Apple Inc <AAPL.O> rose 2%"
    feature = token_features([Example(sentence=text)], tokenizer, 32)[0]
    token = np.zeros((len(feature["_offsets"]), 4), dtype=np.float32)
    # The name's tokens lean to the first class strongly, the ticker's to the second a little: pooled over both,
    # the name decides; over the ticker alone, it would be the second class.
    token[tokens_in_spans(feature["_offsets"], feature["_real"], [(0, 9)]), 0] = 5.0
    token[tokens_in_spans(feature["_offsets"], feature["_real"], [(10, 18)]), 1] = 1.0
    parts = SentimentParts(token=token, sentence=np.zeros(4, dtype=np.float32),
                           sentence_head=np.zeros(3, dtype=np.float32), sentence_context=False)
    answer = given_target(Mention("$AAPL"), feature, Example(sentence=text), parts, 0.8)
    assert answer["match"] == "ticker" and text[answer["start"]:answer["end"]] == "<AAPL.O>"
    assert answer["sentiment"]["label"] == SENTIMENT_LABELS[0]
    assert given_target(Mention("AAPL"), feature, Example(sentence=text), parts, 0.8)["sentiment"]["label"] == \
        SENTIMENT_LABELS[0]  # found as its own word inside the brackets, read with the name all the same
    # With no name before it, the ticker alone is read.
    bare = "<AAPL.O> rose 2%"
    feature = token_features([Example(sentence=bare)], tokenizer, 32)[0]
    token = np.zeros((len(feature["_offsets"]), 4), dtype=np.float32)
    token[tokens_in_spans(feature["_offsets"], feature["_real"], [(0, 8)]), 1] = 1.0
    parts = SentimentParts(token=token, sentence=np.zeros(4, dtype=np.float32),
                           sentence_head=np.zeros(3, dtype=np.float32), sentence_context=False)
    assert given_target(Mention("$AAPL"), feature, Example(sentence=bare), parts, 0.8)["sentiment"]["label"] == \
        SENTIMENT_LABELS[1]


@pytest.mark.parametrize("given, strong, weak", [
    # Found as the name: read with every mention of the short form it defines in brackets.
    ("Standard Chartered PLC", ["StanChart"], ["Standard Chartered"]),
    # Found as the short form: read with the name it shortens.
    ("StanChart", ["Standard Chartered"], ["StanChart"]),
])
def test_a_given_name_is_read_with_the_short_form_the_text_defines_for_it(tokenizer, given, strong, weak):
    import numpy as np

    from finabsa.data.labels import SENTIMENT_LABELS
    from finabsa.data.records import Mention
    from finabsa.data.spans import whole_word_spans
    from finabsa.tasks.joint.decoding import SentimentParts, given_target
    from finabsa.tasks.target import tokens_in_spans

    text = "Standard Chartered (StanChart) cut jobs, and StanChart shares fell"
    feature = token_features([Example(sentence=text)], tokenizer, 32)[0]
    token = np.zeros((len(feature["_offsets"]), 4), dtype=np.float32)

    def lean(names: list[str], column: int, by: float) -> None:
        spans = [span for name in names for span in whole_word_spans(text, name)]
        token[tokens_in_spans(feature["_offsets"], feature["_real"], spans), column] = by

    # What the given name is found as leans a little to the second class, the other name strongly to the first:
    # pooled over both, the first class; over what was found alone, it would be the second.
    lean(weak, 1, 1.0)
    lean(strong, 0, 5.0)
    parts = SentimentParts(token=token, sentence=np.zeros(4, dtype=np.float32),
                           sentence_head=np.zeros(3, dtype=np.float32), sentence_context=False)
    answer = given_target(Mention(given), feature, Example(sentence=text), parts, 0.8)
    assert answer["located"] and answer["sentiment"]["label"] == SENTIMENT_LABELS[0]
