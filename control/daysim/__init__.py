"""A simulated day of the border gate and its transfer yard (issue 7): the site as a grid, truck arrivals with daily
peaks, gate processing times (SmartGate and today's manual process), the day's report and plot, and the capacity
search over trucks per day. The event engine that ties them together is ``control.daysim.engine``."""
