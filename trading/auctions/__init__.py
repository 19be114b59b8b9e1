"""Rights trading: listing (挂牌), auctions (拍卖) and online bidding (网络竞价) of land use rights,
state-owned property, mining and emission rights."""
