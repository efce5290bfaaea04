"""Operations: the pipeline, the quality gate, the webhook receiver, erasure, Spark landing."""
