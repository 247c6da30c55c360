"""The PyTorch side of each concept: what the notebooks train at real scale.

One module per concept, as ``nncourse/<concept>.py`` holds its from-scratch NumPy idea:

* ``at_scale.training`` - device, seeding and the ``fit`` loop every notebook uses (01 onwards);
* ``at_scale.recipe`` - the learning-rate range test on a PyTorch model (04);
* ``at_scale.generalization`` - plain and residual MLPs for the depth sweep (05);
* ``at_scale.cnn`` - a small modern CNN, the GAP CNN and a small ResNet, throughput and speed habits,
  saliency maps, the effective receptive field (06);
* ``at_scale.rnn`` - the character-level LSTM language model, truncated BPTT (07);
* ``at_scale.seq2seq`` - a GRU encoder-decoder with cross-attention, greedy and beam decoding (07);
* ``at_scale.gpt`` - a GPT in one file, nanoGPT-style, with a KV cache (08);
* ``at_scale.gnn``, ``transfer``, ``scale`` (+ ``ddp_train``), ``compression``, ``explain``,
  ``robustness``, ``privacy`` - the PyTorch side of notebooks 09-15.

Each is meant to be read whole. Only ``at_scale.training`` is imported with ``nncourse`` (it
imports torch inside its functions); the others import torch at the top and are imported on demand.
"""
