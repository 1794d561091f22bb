"""What is asked of the model about a video or images, and how answers map back to the
original timeline and pixels."""
