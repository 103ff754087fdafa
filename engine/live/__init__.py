"""Live mode: the Kalshi WebSocket v2 feed (client and a local server), recording and paper trading."""
