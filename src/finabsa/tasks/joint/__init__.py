"""The joint task: every target of a sentence, its sentiment and the sentence's aspect from one encoder pass.

``task`` holds the plug-in (options, data checks, label encoding, pipeline record), ``decoding`` turns tags into
targets, ``pooling`` pools a target's sentiment over its span (the one implementation that decoding and the loss
share), ``scoring`` the metrics. The model, its collator and loss are the joint head (``finabsa.models.heads.joint``).
"""

from .pooling import SENTIMENT_OUTPUTS, membership, pool_targets, span_sentiment
from .scoring import mention_class, pairs_text
from .task import JointOptions, JointTask

__all__ = ["JointOptions", "JointTask", "SENTIMENT_OUTPUTS", "membership", "mention_class", "pairs_text",
           "pool_targets", "span_sentiment"]
