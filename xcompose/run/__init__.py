"""Carrying a plan out: the parallel walk, `up`, `down`, logs, and the project lock."""
