"""RecBench item features: the ground truth, each completion method's, and the imputation baselines."""
