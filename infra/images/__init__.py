"""Container images of the three services, built with buildah on a Debian base (mmdebstrap).

`python -m infra.images build` (make images) makes the base image once, then builds each
service's image from its Dockerfile, and skips any image whose inputs have not changed.
"""
