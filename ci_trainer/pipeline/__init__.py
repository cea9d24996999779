"""The pipeline: the stages of one run against one training service (`flow.Pipeline`),
each module holding the stages of one part of it."""
