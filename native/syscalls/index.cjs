'use strict';
module.exports = require('./build/Release/berth_syscalls.node');
