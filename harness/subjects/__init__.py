"""Subjects trained here: small multilingual causal LMs learned from the tasks' real data on CPU, so that the
full tier has a model that learned language to run on where no pretrained weights can be downloaded.

``recipe`` holds what decides their weights; ``build`` trains, caches and loads them (imported lazily by
harness.core.models, which it imports itself).
"""

from harness.subjects.recipe import BASE, IFT, SUBJECTS, Architecture, Recipe

__all__ = ["BASE", "IFT", "SUBJECTS", "Architecture", "Recipe"]
