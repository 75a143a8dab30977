//! set-encoder: will hold the Set Transformer (MAB, SAB, ISAB, PMA) and MetaD2A's two-level dataset encoder.
