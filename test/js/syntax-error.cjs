exports.broken = {;
