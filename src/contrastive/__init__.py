"""The executable edition of Wang & Liu, *Understanding the Behaviour of Contrastive Loss* (CVPR 2021).

Modules follow the paper: ``losses`` (Eq. 1-9), ``metrics`` (Eq. 10-11), the training engine (``data``, ``augment``,
``models``, ``memory``, ``train``, ``evaluate``), ``config`` (run configuration and protocols), ``results`` (run
records), ``paper`` (the paper's own numbers), ``derivations`` and ``claims`` (every claim checked) and ``figures``.
"""

__version__ = "0.1.0"
