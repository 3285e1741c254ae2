"""Deep sequence models of next-day variance: an LSTM and a small Transformer (PyTorch).

Optional: PyTorch is not a core dependency. Install the CPU wheel with
``make install-deep``; importing this module without it raises an ``ImportError`` that
says so. Nothing else in RiskOps imports this module unless a deep model is asked for.

Both models read the last ``lookback`` days of standardised inputs (the return, its
absolute value and its log square) and output the log of the next day's variance.
They are trained by minimising the QLIKE loss ``log h + s / h`` (the Gaussian negative
log-likelihood up to constants), the loss they are evaluated with. The fitted
estimators keep their weights as NumPy arrays (``state_dict_``), so that they are saved
like any other scikit-learn estimator, with skops (no torch object in the saved state).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from riskops.errors import BadInputError, DataValidationError, Violation
from riskops.market.volatility.returns import _as_variance, as_returns
from riskops.serialization import PlainState

try:
    import torch
    from torch import nn
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError(
        "riskops.market.deep needs PyTorch, which is optional: run `make install-deep` "
        "(it installs the CPU wheel) or use a non-deep volatility model "
        "(garch, gjr, egarch, har_lightgbm)."
    ) from exc

__all__ = ["LSTMVolatility", "TransformerVolatility"]

_N_INPUTS = 3
_LOG_FLOOR = 1e-4
_CLIP = 10.0


def _inputs(returns: np.ndarray, scale: float) -> np.ndarray:
    """Per-day inputs: standardised return, its absolute value and its log square."""
    z = np.clip(returns / scale, -_CLIP, _CLIP)
    return np.column_stack([z, np.abs(z), np.log(z**2 + _LOG_FLOOR)]).astype(np.float32)


def _windows(inputs: np.ndarray, lookback: int, pad: np.ndarray) -> np.ndarray:
    """Window of the ``lookback`` days ending at each day; days before the start are ``pad``."""
    padded = np.vstack([np.tile(pad, (lookback - 1, 1)), inputs]).astype(np.float32)
    view = np.lib.stride_tricks.sliding_window_view(padded, lookback, axis=0)
    return np.ascontiguousarray(view.transpose(0, 2, 1))


class LSTMNetwork(nn.Module):
    """One LSTM layer; the last hidden state maps to the log variance."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(_N_INPUTS, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.head(out[:, -1, :]).squeeze(-1)


class TransformerNetwork(nn.Module):
    """A one-layer Transformer encoder with learned positions; the last day's token
    maps to the log variance."""

    def __init__(self, d_model: int, n_heads: int, lookback: int) -> None:
        super().__init__()
        self.embed = nn.Linear(_N_INPUTS, d_model)
        self.position = nn.Parameter(torch.zeros(1, lookback, d_model))
        layer = nn.TransformerEncoderLayer(
            d_model, n_heads, dim_feedforward=2 * d_model, dropout=0.0, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers=1, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encoder(self.embed(x) + self.position[:, -x.shape[1] :, :])
        return self.head(h[:, -1, :]).squeeze(-1)


class _SequenceVolatility(PlainState, BaseEstimator):
    """Shared fitting and forecasting of the sequence models (scikit-learn contract)."""

    def _network(self) -> nn.Module:
        raise NotImplementedError

    def _check(self) -> None:
        for name in ("lookback", "epochs", "batch_size", "max_train_days"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise BadInputError(f"{type(self).__name__}: {name} must be a positive integer")

    def fit(self, returns: Any, y: Any = None) -> _SequenceVolatility:
        """Fit on percent returns (the last ``max_train_days``); ``y`` an optional proxy.

        Parameters
        ----------
        returns : pandas.Series or DataFrame with a ``ret`` column
        y : array-like, optional
            Realised variance of each day (percent²), aligned with ``returns``; defaults
            to the squared return.
        """
        self._check()
        series = as_returns(returns)
        target = (series**2).to_numpy() if y is None else np.asarray(y, dtype=float).ravel()
        if target.shape != (len(series),) or not np.isfinite(target).all() or (target < 0).any():
            raise DataValidationError(
                "realised variance", [Violation("y", "must be finite, >= 0 and aligned")]
            )
        lookback = int(self.lookback)
        if len(series) < lookback + 50:
            raise DataValidationError(
                "returns", [Violation("ret", f"need at least {lookback + 50} returns")]
            )
        keep = min(len(series), int(self.max_train_days))
        values, target = series.to_numpy()[-keep:], target[-keep:]
        torch.manual_seed(int(self.random_state))
        rng = np.random.default_rng(int(self.random_state))
        threads = torch.get_num_threads()
        torch.set_num_threads(int(self.n_threads))
        try:
            self._train(values, target, lookback, rng)
        finally:
            torch.set_num_threads(threads)
        self.returns_ = series
        self.n_obs_ = len(series)
        return self

    def _train(
        self, values: np.ndarray, target: np.ndarray, lookback: int, rng: np.random.Generator
    ) -> None:
        self.scale_ = float(np.sqrt(np.mean(values**2))) or 1.0
        inputs = _inputs(values, self.scale_)
        self.pad_ = inputs.mean(axis=0)
        # Day t's window forecasts day t + 1; the first lookback - 1 days only fill windows.
        X = _windows(inputs, lookback, self.pad_)[lookback - 1 : -1]
        s = (target / self.scale_**2)[lookback:].astype(np.float32)
        network = self._network()
        head = network.head
        assert isinstance(head, nn.Linear)  # for the type checker: both networks end in one
        with torch.no_grad():
            head.bias.fill_(float(np.log(s.mean())))
        optimiser = torch.optim.Adam(network.parameters(), lr=float(self.learning_rate))
        X_t, s_t = torch.from_numpy(X), torch.from_numpy(s)
        batch = int(self.batch_size)
        network.train()
        losses = []
        for _ in range(int(self.epochs)):
            order = torch.from_numpy(rng.permutation(len(X)))
            total = 0.0
            for i in range(0, len(X), batch):
                idx = order[i : i + batch]
                log_h = network(X_t[idx])
                loss = (log_h + s_t[idx] * torch.exp(-log_h)).mean()
                optimiser.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(network.parameters(), 5.0)
                optimiser.step()
                total += float(loss.detach()) * len(idx)
            losses.append(total / len(X))
        network.eval()
        self.train_loss_ = losses
        self.state_dict_ = {k: v.detach().cpu().numpy() for k, v in network.state_dict().items()}

    def _fitted_network(self) -> nn.Module:
        network = self._network()
        network.load_state_dict({k: torch.from_numpy(v) for k, v in self.state_dict_.items()})
        network.eval()
        return network

    def _forecast_windows(self, windows: np.ndarray) -> np.ndarray:
        network = self._fitted_network()
        with torch.no_grad():
            log_h = network(torch.from_numpy(windows)).numpy().astype(float)
        return np.exp(log_h) * self.scale_**2

    def variance_path(self, returns: Any = None) -> pd.Series:
        """One-step forecasts for every day of ``returns``: row ``t`` forecasts day ``t + 1``."""
        check_is_fitted(self, "state_dict_")
        history = self.returns_ if returns is None else as_returns(returns)
        windows = _windows(_inputs(history.to_numpy(), self.scale_), int(self.lookback), self.pad_)
        values = self._forecast_windows(windows)
        return pd.Series(_as_variance(values), index=history.index, name="variance")

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """One-step variance forecasts for a frame with a ``ret`` column (MLflow's pyfunc)."""
        check_is_fitted(self, "state_dict_")
        return self.variance_path(as_returns(X, name="predict input")).to_numpy()

    def forecast_variance(self, returns: Any = None, horizon: int = 1) -> np.ndarray:
        """Variance forecasts for the ``horizon`` days after ``returns``, percent².

        Beyond one day each forecast ``v`` stands in for the unknown day by the
        expected inputs of a symmetric normal return: ``r = 0`` for the signed return,
        ``|r| = sqrt(2 v / pi)`` and ``r² = v``.
        """
        check_is_fitted(self, "state_dict_")
        if int(horizon) < 1:
            raise BadInputError(f"horizon must be at least 1, got {horizon!r}")
        history = self.returns_ if returns is None else as_returns(returns)
        lookback = int(self.lookback)
        inputs = _inputs(history.to_numpy()[-lookback:], self.scale_)
        out = []
        for _ in range(int(horizon)):
            window = _windows(inputs, lookback, self.pad_)[-1:]
            v = float(self._forecast_windows(window)[0])
            out.append(v)
            z2 = v / self.scale_**2
            day = np.array([[0.0, np.sqrt(2 * z2 / np.pi), np.log(z2 + _LOG_FLOOR)]])
            inputs = np.vstack([inputs, day.astype(np.float32)])[-lookback:]
        return _as_variance(np.array(out))

    def fitted_params(self) -> dict[str, Any]:
        """Size and training trace, for the evidence (the weights themselves are opaque)."""
        check_is_fitted(self, "state_dict_")
        return {
            "n_weights": int(sum(v.size for v in self.state_dict_.values())),
            "final_train_qlike": float(self.train_loss_[-1]),
            "first_train_qlike": float(self.train_loss_[0]),
            "epochs": len(self.train_loss_),
            "scale": self.scale_,
        }


class LSTMVolatility(_SequenceVolatility):
    """LSTM forecaster of next-day variance, trained on QLIKE.

    Parameters
    ----------
    lookback : int
        Days in each input window.
    hidden_size : int
        LSTM state size.
    epochs, batch_size, learning_rate : training settings (Adam).
    max_train_days : int
        Only the most recent days are trained on, which bounds the cost of refits on
        long histories.
    random_state : int
    n_threads : int
        PyTorch threads while fitting.

    Attributes
    ----------
    state_dict_ : dict of str to numpy.ndarray
        Network weights.
    scale_ : float
        Root mean square of the training returns; inputs are divided by it.
    pad_ : numpy.ndarray
        Mean input day, standing in for days before the start of a history.
    train_loss_ : list of float
        Mean QLIKE (scaled units) of each epoch.
    returns_ : pandas.Series
    n_obs_ : int
    """

    def __init__(
        self,
        lookback: int = 22,
        hidden_size: int = 16,
        epochs: int = 15,
        batch_size: int = 128,
        learning_rate: float = 3e-3,
        max_train_days: int = 2500,
        random_state: int = 0,
        n_threads: int = 1,
    ) -> None:
        self.lookback = lookback
        self.hidden_size = hidden_size
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.max_train_days = max_train_days
        self.random_state = random_state
        self.n_threads = n_threads

    def _network(self) -> nn.Module:
        return LSTMNetwork(int(self.hidden_size))


class TransformerVolatility(_SequenceVolatility):
    """Small Transformer-encoder forecaster of next-day variance, trained on QLIKE.

    Parameters
    ----------
    lookback : int
        Days in each input window.
    d_model, n_heads : int
        Token width and attention heads of the single encoder layer.
    epochs, batch_size, learning_rate, max_train_days, random_state, n_threads
        As for :class:`LSTMVolatility`.
    """

    def __init__(
        self,
        lookback: int = 22,
        d_model: int = 16,
        n_heads: int = 2,
        epochs: int = 15,
        batch_size: int = 128,
        learning_rate: float = 3e-3,
        max_train_days: int = 2500,
        random_state: int = 0,
        n_threads: int = 1,
    ) -> None:
        self.lookback = lookback
        self.d_model = d_model
        self.n_heads = n_heads
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.max_train_days = max_train_days
        self.random_state = random_state
        self.n_threads = n_threads

    def _network(self) -> nn.Module:
        return TransformerNetwork(int(self.d_model), int(self.n_heads), int(self.lookback))
