"""Writing tools: proofread, rewrite in a tone, summary, key points, list, table, instruction."""
