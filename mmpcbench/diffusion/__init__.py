"""Text-to-image: paint the MLLMs' T→I prompts with Stable Diffusion 3.5."""
