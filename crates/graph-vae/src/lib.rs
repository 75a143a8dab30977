//! graph-vae: will hold the D-VAE graph encoder and decoder over typed architecture DAGs.
