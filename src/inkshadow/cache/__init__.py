"""Result cache and chat sessions, on Redis (shared by replicas) or in memory (one process)."""
