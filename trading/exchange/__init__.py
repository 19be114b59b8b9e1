"""The national data-exchange records (全国公共资源交易平台系统数据规范) reported to the upper platform."""
