"""Numbers that judge a model or an explanation: classification reports (scikit-learn), the pointing game and
energy inside the evidence, deletion/insertion faithfulness, and the weight-randomisation sanity check."""
