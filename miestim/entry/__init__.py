"""The one-call entry points, one module each: input checks, then dispatch to a cross-fitted or a single-split fit.

``miestim.estimate_mi`` (:mod:`miestim.entry.mi`), ``miestim.estimate_cmi`` (:mod:`miestim.entry.cmi`) and
``miestim.decompose`` (:mod:`miestim.entry.decomposition`); what they share is in ``_common``.
"""
