"""The PyTorch side of each concept: what the notebooks train at real scale.

One module per concept, as ``nncourse/<concept>.py`` holds its from-scratch NumPy idea:

* ``at_scale.training`` - device, seeding and the ``fit`` loop every notebook uses (01 onwards);
* ``at_scale.cnn`` - a small modern CNN, throughput and speed habits, saliency maps (06);
* ``at_scale.rnn`` - the character-level LSTM language model (07);
* ``at_scale.gpt`` - a GPT in one file, nanoGPT-style (08).

Each is meant to be read whole. Only ``at_scale.training`` is imported with ``nncourse`` (it
imports torch inside its functions); the others import torch at the top and are imported on demand.
"""
