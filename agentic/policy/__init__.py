"""What the contract decides: the contract's typed form, allow / ask / deny for every tool call (bash scripts
through `shell`), and the run's hard limits (`budget`)."""
