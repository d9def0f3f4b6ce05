// The Ingress module.
