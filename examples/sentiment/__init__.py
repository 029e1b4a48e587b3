"""MIMRL: multimodal sentiment analysis with mutual-information-based disentangled representations (CMU-MOSI/MOSEI)."""
