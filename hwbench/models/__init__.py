"""torch.nn.Module builders (torch is imported only inside these modules)."""
