"""The Gradio UI: thin views over the run spec, the data functions and the job manager."""
