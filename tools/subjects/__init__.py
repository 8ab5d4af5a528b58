"""The subject side: the task zoo, RASP → tracr → TransformerLens, model directories, faithfulness and anonymity checks."""
