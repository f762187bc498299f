"""Tables and figures of the paper, regenerated from the files the stages wrote."""
