"""The aspect hierarchy as a tree over the full paths seen in training, for one head that predicts every level.

The head scores full paths (the leaves); the probability of a level-1 or level-2 category is the sum of its
leaves' probabilities. Training adds a loss term for each level, so that the 7-row full-path classes share
what their level-1 and level-2 ancestors learn; decoding walks the tree top-down (best level-1 category, then its
best level-2 child, then that child's best path), so the three answers are always consistent with each other and
with a path seen in training.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..data.records import truncate_aspect

__all__ = ["AspectTree", "LEVEL_DEPTHS"]

#: The levels the tree answers at, with the depth each truncates paths to (None: the full path).
LEVEL_DEPTHS = {"1": 1, "2": 2, "full": None}


class AspectTree:
    """Full-path labels grouped by their level-1 and level-2 ancestors."""

    def __init__(self, leaves: list[str]):
        self.leaves = list(leaves)
        self.nodes = {level: sorted({truncate_aspect(leaf, depth) for leaf in leaves})
                      for level, depth in LEVEL_DEPTHS.items() if depth is not None}
        self.nodes["full"] = list(self.leaves)
        # membership[level][g, j] = 1 when leaf j lies under node g of that level
        self.membership = {
            level: np.array([[truncate_aspect(leaf, LEVEL_DEPTHS[level]) == node for leaf in leaves]
                             for node in nodes], dtype=np.float32)
            for level, nodes in self.nodes.items() if level != "full"
        }

    def marginals(self, leaf_probabilities: np.ndarray, level: str) -> np.ndarray:
        """Probabilities of the nodes of ``level`` (rows: examples); ``full`` returns the leaves' own."""
        if level == "full":
            return leaf_probabilities
        return leaf_probabilities @ self.membership[level].T

    def decode(self, leaf_probabilities: np.ndarray) -> dict[str, tuple[str, float]]:
        """Top-down, tree-consistent answer for one example: level -> (label, probability)."""
        allowed = np.ones(len(self.leaves), dtype=bool)
        answer = {}
        for level in ("1", "2", "full"):
            if level == "full":
                scores = np.where(allowed, leaf_probabilities, -1.0)
                best = int(scores.argmax())
            else:
                node_scores = self.membership[level] @ (leaf_probabilities * allowed)
                possible = (self.membership[level] @ allowed) > 0
                best = int(np.where(possible, node_scores, -1.0).argmax())
                allowed = allowed & (self.membership[level][best] > 0)
            probability = float(self.marginals(leaf_probabilities[None, :], level)[0, best])
            answer[level] = (self.nodes[level][best], probability)
        return answer

    def read(self, leaf_probabilities: np.ndarray, level: str) -> tuple[str, float, list[str]]:
        """The tree-consistent answer at ``level`` with its probability, and the path at every level."""
        answer = self.decode(leaf_probabilities)
        label, probability = answer[level]
        return label, probability, [answer[each][0] for each in LEVEL_DEPTHS]

    def probability(self, leaf_probabilities: np.ndarray, level: str, label: str) -> float:
        """The probability of node ``label`` of ``level`` (the sum of its leaves') for one example."""
        return float(self.marginals(leaf_probabilities[None, :], level)[0, self.nodes[level].index(label)])

    def loss(self, logits: Any, targets: Any) -> Any:
        """Mean over the batch of the negative log-likelihood at every level (full path, level 2, level 1)."""
        import torch

        log_probs = torch.log_softmax(logits.float(), dim=-1)
        total = -log_probs.gather(1, targets[:, None]).squeeze(1)
        for level in ("1", "2"):
            member = torch.as_tensor(self.membership[level], device=logits.device)
            node_log_probs = torch.logsumexp(log_probs[:, None, :] + member.log()[None, :, :], dim=-1)
            node_of_leaf = member.argmax(dim=0)
            total = total - node_log_probs.gather(1, node_of_leaf[targets][:, None]).squeeze(1)
        return total.mean() / 3


def hierarchical_loss(tree: AspectTree) -> Any:
    """A Trainer ``compute_loss_func`` for the tree loss."""

    def compute(outputs: Any, targets: Any, num_items_in_batch: Any = None) -> Any:
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs.logits
        return tree.loss(logits, targets.view(-1))

    return compute
