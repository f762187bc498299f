"""GRPO alignment of an MLLM for one task (I→T or T→I): the rule-based rewards and the training stage."""
