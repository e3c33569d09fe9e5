"""Voice of the customer: what customers say in verbatims, reviews and social mentions."""
