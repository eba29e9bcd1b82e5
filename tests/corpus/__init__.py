"""Bad-input corpus: cases made from the valid fixture cut by one fault each."""
