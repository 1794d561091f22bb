"""The web UI: a Gradio app talking to the inkshadow API over HTTP like any client."""
