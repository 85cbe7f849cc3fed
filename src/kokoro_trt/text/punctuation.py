"""Punctuation classes shared by the normaliser, the sentence splitter and the chunker."""

SENTENCE_END = frozenset(".!?…。！？｡।॥")
CLAUSE_END = frozenset(",;:—、，；：､")
CLOSERS = "\"')”»」』】》〉）"
"""Closing quotes and brackets that stay with the sentence or clause before them."""
