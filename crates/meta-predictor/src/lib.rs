//! meta-predictor: will hold the meta-performance predictor, accuracy = f(dataset, architecture), and its metrics.
