"""The paper exchange: matching, fills and fees against the recorded book."""
