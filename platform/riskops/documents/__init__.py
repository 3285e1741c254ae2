"""The parts of model cards and validation reports below governance: blocks, figures, texts."""
