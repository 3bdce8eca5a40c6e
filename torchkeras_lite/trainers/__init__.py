"""Training engine: data batching, compiled loss/metrics, and the fit/evaluate/predict loops."""
