"""Re-export: the epilogue is IR data and lives in ait.ir.epilogue."""
from ait.ir.epilogue import BIAS, BIAS_ADD, BIAS_ADD_RELU, BIAS_RELU, Activation, Epilogue

__all__ = ["Activation", "Epilogue", "BIAS", "BIAS_RELU", "BIAS_ADD", "BIAS_ADD_RELU"]
