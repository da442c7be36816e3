"""One bot process: start-up checks, serving, logs, metrics, background work, clean-up, and its
place among replicas.

The top of the tree with bot.app: may import any package.
"""
