"""Wire-free call model shared by transports and policy layers."""
