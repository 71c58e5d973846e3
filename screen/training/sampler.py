"""P x K batches and unordered frame sampling, as OpenGait trains ScoNet.

Semantics matched to OpenGait's TripletSampler and 'fixed_unordered' collate:
- P ids per batch, drawn without replacement (with replacement only when the
  split has fewer than P ids);
- K sequences per id, without replacement when the id has at least K, else
  with replacement: Scoliosis1K ids usually have one sequence, so a batch
  holds K differently-sampled copies of it;
- F frames per sequence in random order, with replacement only when the
  sequence is shorter than F.
Every draw comes from one torch.Generator, whose state a checkpoint stores, so
a resumed run draws exactly the batches an uninterrupted run would.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def choose(population: int, count: int, generator: torch.Generator) -> list[int]:
    """`count` indices of range(population): distinct when possible, else with replacement."""
    if population < 1:
        raise ValueError("cannot choose from an empty population")
    if population < count:
        return torch.randint(population, (count,), generator=generator).tolist()
    return torch.randperm(population, generator=generator)[:count].tolist()


class PKSampler:
    """Batches of record indices: `ids_per_batch` subjects x `seqs_per_id` sequences each."""

    def __init__(
        self,
        subjects: Sequence[str],
        ids_per_batch: int,
        seqs_per_id: int,
        generator: torch.Generator,
    ) -> None:
        if ids_per_batch < 1 or seqs_per_id < 1:
            raise ValueError("a batch needs at least one id and one sequence per id")
        self.ids_per_batch = ids_per_batch
        self.seqs_per_id = seqs_per_id
        self.generator = generator
        self.records_of: dict[str, list[int]] = {}
        for index, subject in enumerate(subjects):
            self.records_of.setdefault(subject, []).append(index)
        self.subjects = sorted(self.records_of)
        if not self.subjects:
            raise ValueError("no sequence to sample from")

    def next_batch(self) -> list[int]:
        """Record indices of one batch, grouped by subject: [P * K]."""
        batch = []
        for chosen in choose(len(self.subjects), self.ids_per_batch, self.generator):
            records = self.records_of[self.subjects[chosen]]
            batch += [records[i] for i in choose(len(records), self.seqs_per_id, self.generator)]
        return batch


def sample_frames(length: int, count: int, generator: torch.Generator) -> list[int]:
    """`count` frame indices of a `length`-frame sequence, unordered ('fixed_unordered')."""
    return choose(length, count, generator)
